using System.Text.Json;
using Rrq.Envir;
using Rrq.Scripts;

namespace Rrq;

public sealed partial class RrqController
{
    /// <summary>
    /// Sets the worker environment of the queue (rrq's <c>rrq_worker_envir_set</c>): the text of each
    /// source is stored in Redis with a new version, and (with <paramref name="notify"/>) running
    /// workers reload it before their next task. When <c>Rrq.Scripting</c> is available the sources
    /// are compiled first, and an environment that does not compile is refused.
    /// </summary>
    /// <exception cref="RrqEnvirException">A source file is missing (the message names the path) or does
    /// not compile (with the compiler's diagnostics); nothing is changed and workers keep the old one.</exception>
    public void WorkerEnvirSet(RrqEnvir envir, bool notify = true) =>
        WorkerEnvirSetAsync(envir, notify).GetAwaiter().GetResult();

    /// <inheritdoc cref="WorkerEnvirSet"/>
    public async Task WorkerEnvirSetAsync(RrqEnvir envir, bool notify = true, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        var spec = EnvirReader.Read(envir, version: 0);
        IEnvirValidator.Find()?.Validate(spec);
        await Queue.EnvirSetAsync(SealText("envir", JsonSerializer.Serialize(spec, JsonOptions)), notify, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The worker environment currently stored for the queue (version 0: none set).</summary>
    public RrqEnvirSpec WorkerEnvirGet() => WorkerEnvirGetAsync().GetAwaiter().GetResult();

    /// <inheritdoc cref="WorkerEnvirGet"/>
    public Task<RrqEnvirSpec> WorkerEnvirGetAsync(CancellationToken cancellationToken = default) =>
        WorkerEnvirReadAsync(verify: false, cancellationToken);

    /// <summary>The stored environment; with <paramref name="verify"/> (a worker with signing keys), its signature is
    /// checked first.</summary>
    /// <exception cref="RrqEnvirException">Verifying, and it is not signed by this queue's key (nothing of it is loaded).</exception>
    internal async Task<RrqEnvirSpec> WorkerEnvirReadAsync(bool verify, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        var (version, text) = await Queue.EnvirFieldsAsync(cancellationToken).ConfigureAwait(false);
        if (text is null)
        {
            return RrqEnvirSpec.Empty;
        }
        if (verify && SigningKeys is { } keys)
        {
            try
            {
                text = keys.Open("envir", QueueId, text, $"The worker environment (version {version})");
            }
            catch (RrqSignatureException e)
            {
                throw new RrqEnvirException(e.Message, e);
            }
        }
        else
        {
            text = RrqSigningKeys.Strip(text);
        }
        return JsonSerializer.Deserialize<RrqEnvirSpec>(text, JsonOptions)! with { Version = long.Parse(version!, System.Globalization.CultureInfo.InvariantCulture) };
    }
}
