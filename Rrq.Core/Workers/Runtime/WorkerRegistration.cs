using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Rrq.Connection;

namespace Rrq.Workers;

/// <summary>What a claim that found the worker unregistered comes to.</summary>
internal enum Unregistered
{
    /// <summary>It had been declared lost (cut off longer than its heartbeat lasts), and is back in.</summary>
    Rejoined,

    /// <summary>The server it reached has none of the queue and no mark that it was destroyed: it waits for the queue.</summary>
    QueueAbsent,

    /// <summary>It was stopped, or the queue was destroyed: it leaves.</summary>
    Gone,
}

/// <summary>
/// A worker's place in its queue: registering, its heartbeat, what it tells about itself (<see cref="RrqWorkerInfo"/>),
/// getting back in after being declared lost, telling one server's empty answer from the queue's end, and leaving.
/// </summary>
internal sealed class WorkerRegistration(RrqController controller, string id, string configName, RrqWorkerConfig config,
    TimeProvider time, ILogger log) : IDisposable
{
    private Heartbeat? _heartbeat;
    private readonly DateTimeOffset _started = time.GetUtcNow();

    /// <summary>How long a leaving worker keeps trying to record its exit through an outage.</summary>
    internal static readonly TimeSpan ExitBudget = TimeSpan.FromSeconds(15);

    /// <summary>How often a worker looks again for a queue whose data its server lacks.</summary>
    private static readonly TimeSpan QueueAbsentLook = TimeSpan.FromSeconds(1);

    /// <summary>Set while the server answers that the queue does not exist, and it was not destroyed (see RrqKeys.Destroyed).</summary>
    private bool _queueAbsent;

    private string QueueId => controller.QueueId;

    /// <summary>What the worker tells about itself (<c>WorkerInfo</c>, and the INFO message).</summary>
    public RrqWorkerInfo BuildInfo() => new(id, Environment.MachineName, Environment.ProcessId, Environment.UserName, configName,
        config.EffectiveQueues, typeof(RrqWorker).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "?",
        $"{RuntimeInformation.FrameworkDescription} on {RuntimeInformation.OSDescription}", _started,
        config.HeartbeatPeriod is null ? null : (string?)controller.Keys.WorkerHeartbeat(id))
    {
        ProcessStarted = ProcessKill.StartTime(Environment.ProcessId),
        Concurrency = config.Concurrency,
        SlurmJob = RrqSlurmLauncher.JobOfThisProcess(),
    };

    /// <summary>Registers the worker as IDLE, and starts its heartbeat (which also runs <paramref name="sweep"/>, the
    /// lost-worker detection, when the config asks for it).</summary>
    /// <exception cref="RrqException">A live worker has its id, or the queue was destroyed meanwhile.</exception>
    public async Task RegisterAsync(Func<CancellationToken, Task> sweep)
    {
        var registered = await RegisterScriptAsync(rejoin: false).ConfigureAwait(false);
        if (registered == -3)
        {
            throw new RrqException($"Queue '{QueueId}' does not exist (it was destroyed as worker '{id}' started): nothing was written.");
        }
        if (registered < 0)
        {
            throw new RrqException($"A live worker named '{id}' is already registered in queue '{QueueId}'. " +
                "Pick another name (or stop that worker first).");
        }
        if (config.HeartbeatPeriod is { } beat)
        {
            _heartbeat = new Heartbeat(controller.Queue, id, beat, config.DetectLostWorkers ? sweep : null,
                note => Logging.RrqLog.Heartbeat(log, note), time);
            _heartbeat.Start();
        }
    }

    /// <summary>Stops the heartbeat: the worker is leaving, or is no longer registered (a beat would only make it look
    /// alive again, or, after a destroy, bring a key back).</summary>
    public void StopHeartbeat() => _heartbeat?.Dispose();

    public void Dispose() => StopHeartbeat();

    /// <summary>The worker found itself no longer registered: it stops beating and removes its heartbeat key.</summary>
    public async Task ForgetAsync()
    {
        StopHeartbeat();
        await controller.Queue.HeartbeatDeleteAsync(id).ConfigureAwait(false);
        Logging.RrqLog.Unregistered(log);
    }

    private async Task<long> RegisterScriptAsync(bool rejoin) =>
        await controller.Queue.WorkerRegisterAsync(id, JsonSerializer.Serialize(BuildInfo(), RrqController.JsonOptions),
            config.HeartbeatPeriod * Heartbeat.Multiplier, rejoin).ConfigureAwait(false);

    /// <summary>A claim found the worker not registered: it rejoins if it was declared lost, waits if the server has none
    /// of the queue (looking again at <paramref name="inbox"/>'s next due), and otherwise is gone.</summary>
    public async Task<Unregistered> NotRegisteredAsync(WorkerInbox inbox)
    {
        var again = await RegisterScriptAsync(rejoin: true).ConfigureAwait(false);
        if (again == 1)
        {
            // Declared lost while out of touch (an outage longer than its heartbeat, or the process frozen): what it
            // was running is DIED (or retried) already, and its late outcome was dropped. Or the queue's data was lost
            // and a controller has made the queue again.
            Logging.RrqLog.Rejoined(log);
            _queueAbsent = false;
            return Unregistered.Rejoined;
        }
        if (again == -3 && !await controller.Queue.DestroyedMarkAsync().ConfigureAwait(false))
        {
            // None of the queue is on the server it reached, and nothing says the queue was destroyed: one server's
            // empty answer (a restart without persistence, an old master back empty during a failover) is no reason
            // to leave. It looks again each second, and goes on when the queue is back.
            if (!_queueAbsent)
            {
                _queueAbsent = true;
                Logging.RrqLog.QueueDataMissing(log, QueueId, controller.Address.Endpoints);
            }
            inbox.NextDue = time.GetUtcNow() + QueueAbsentLook;
            return Unregistered.QueueAbsent;
        }
        return Unregistered.Gone;
    }

    /// <summary>A claim found the worker registered: a queue reported absent is back.</summary>
    public void Registered()
    {
        if (_queueAbsent)
        {
            _queueAbsent = false;
            Logging.RrqLog.QueueDataBack(log, QueueId);
        }
    }

    /// <summary>Records the worker's exit, giving <paramref name="notStarted"/> back to their queues. Leaving is the one
    /// step a worker does not retry for ever: a worker told to stop during an outage stops, and is declared lost once its
    /// heartbeat expires (its task, if any, DIED).</summary>
    public async Task LeaveAsync(string reason, string[] notStarted)
    {
        using var exitBudget = new CancellationTokenSource(ExitBudget);
        try
        {
            await controller.WorkerExitAsync(id, "STOP " + reason, notStarted, exitBudget.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (RedisFaults.IsTransient(e) || e is RrqConnectionException)
        {
            Logging.RrqLog.ExitNotRecorded(log, Math.Round(ExitBudget.TotalSeconds), RedisFaults.Describe(e));
        }
    }

    /// <summary>The environment variables that can carry Redis credentials or signing keys.</summary>
    internal static readonly string[] CredentialVariables = ["RRQ_REDIS", "REDIS_URL", RrqSigningKeys.EnvironmentVariable];

    /// <summary>Removes the Redis connection string and the key file's name from this process's environment, once a worker
    /// process has connected with them, so task code does not find them there (a worker process only).</summary>
    internal static void ForgetCredentials()
    {
        foreach (var name in CredentialVariables)
        {
            Environment.SetEnvironmentVariable(name, null);
        }
    }
}
