using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Rrq.Workers;

/// <summary>
/// A worker's copy of the queue's worker environment: loaded when the worker starts, again when a claim sees a newer
/// version (or a REFRESH message asks), one load at a time. A version that fails to load (it does not compile, or is
/// not signed by the queue's key) is remembered, so it is not tried again by every slot; the previous one stays.
/// </summary>
internal sealed class WorkerEnvironment(RrqController controller, IRrqTaskEvaluator evaluator, WorkerRecord record, SeparateRunner separate,
    ILogger log, ILogger chatty) : IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>The version loaded (0: none).</summary>
    public long Version { get; private set; }

    /// <summary>The last version that failed to load (-1: none).</summary>
    public long FailedVersion { get; private set; } = -1;

    /// <summary>Whether <paramref name="version"/>, seen by a claim, is neither loaded nor known to fail.</summary>
    public bool IsNew(long version) => version != Version && version != FailedVersion;

    /// <summary>Loads the queue's environment, when it has one (a worker starting).</summary>
    public async Task LoadIfAnyAsync()
    {
        if (await controller.Queue.EnvirStoredAsync().ConfigureAwait(false))
        {
            await LoadAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Loads the queue's environment; returns null, or why it failed (the previous one stays). With
    /// <paramref name="seen"/>, the version a claim saw: nothing is done when another slot has loaded (or failed) it meanwhile.
    /// Tasks running in other slots go on with the environment they started with.</summary>
    public async Task<string?> LoadAsync(long? seen = null)
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (seen is { } v && (v == Version || v == FailedVersion))
            {
                return null;
            }
            return await LoadCoreAsync().ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<string?> LoadCoreAsync()
    {
        RrqEnvirSpec spec;
        try
        {
            spec = await controller.WorkerEnvirReadAsync(verify: true).ConfigureAwait(false);
        }
        catch (RrqEnvirException e)
        {
            // Not signed by the queue's key: nothing of it is compiled, and tasks fail saying so until a signed one is set.
            var version = await controller.Queue.EnvirVersionAsync().ConfigureAwait(false);
            FailedVersion = version;
            await record.LogAsync("ENVIR", $"ERROR version {version}: {e.Message}").ConfigureAwait(false);
            Logging.RrqLog.EnvirFailed(log, e, version, Version, e.Message);
            return e.Message;
        }
        try
        {
            var sw = Stopwatch.StartNew();
            evaluator.LoadEnvironment(spec);
            Version = spec.Version;
            separate.EnvironmentChanged(spec.Version);
            await record.LogAsync("ENVIR", $"version {spec.Version} ({spec.Sources.Count} sources, {sw.ElapsedMilliseconds} ms)").ConfigureAwait(false);
            Logging.RrqLog.EnvirLoaded(chatty, spec.Version, string.Join(", ", spec.Sources.Select(s => s.Path)));
            return null;
        }
        catch (RrqEnvirException e)
        {
            FailedVersion = spec.Version;
            await record.LogAsync("ENVIR", $"ERROR version {spec.Version}: {e.Message}").ConfigureAwait(false);
            Logging.RrqLog.EnvirFailed(log, e, spec.Version, Version, e.Message);
            return e.Message;
        }
    }

    public void Dispose() => _gate.Dispose();
}
