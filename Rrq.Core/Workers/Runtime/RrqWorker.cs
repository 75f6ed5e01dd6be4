using Microsoft.Extensions.Logging;
using Rrq.Connection;
using Rrq.Keys;
using Rrq.Workers;

namespace Rrq;

/// <summary>
/// A worker: takes tasks from its queues, runs them through an <see cref="IRrqTaskEvaluator"/> inside
/// the queue's worker environment, and records their results. The <c>rrq-worker</c> program runs one
/// with <see cref="RunAsync"/>; tests drive one a step at a time with <see cref="Step"/> (rrq's
/// <c>w$step(TRUE)</c>).
/// </summary>
public sealed class RrqWorker : IDisposable, IAsyncDisposable
{
    private readonly RrqController _controller;
    /// <summary>Where the worker logs: its output writer as lines, else the controller's logger.</summary>
    private readonly ILogger _log;

    /// <summary>The worker's slots: one per task it may run at once (<see cref="RrqWorkerConfig.Concurrency"/>).</summary>
    private readonly WorkerSlot[] _slots;

    // Its parts, each with the state it owns: see each class.
    private readonly ClaimBook _claims;
    private readonly WorkerInbox _inbox;
    private readonly WorkerRegistration _registration;
    private readonly SlotStepper _stepper;
    private readonly TaskRunner _runner;
    private readonly WorkerUpkeep _upkeep;
    private readonly WorkerRecord _record;
    private readonly SeparateRunner _separate;
    private readonly WorkerEnvironment _envir;
    private readonly WorkerSweep _sweep;

    // Its life: running (a loop, with the token that stops it), draining (taking no more work, with why it will leave),
    // stopping (StopAsync: take no further step), stopped (left the queue), seen stopped by a step; its steps in flight.
    private bool _looping;
    private CancellationToken _stopToken;
    private string? _draining;
    private int _stopping;
    private int _stopped;
    private bool _sawStopped;
    private readonly StepsInFlight _inSteps = new();

    private RrqWorker(RrqController controller, IRrqTaskEvaluator evaluator, string id, string configName,
        RrqWorkerConfig config, TextWriter? output, TimeProvider time)
    {
        _controller = controller;
        Id = id;
        ConfigName = configName;
        Config = config;
        _log = output is null ? controller.Logger : new Logging.LineLoggerProvider(output, time: time).CreateLogger("Rrq");
        var chatty = Chatty;
        _slots = [.. Enumerable.Range(0, config.Concurrency).Select(i => new WorkerSlot(i, i == 0 ? id : $"{id}#{i}"))];
        _claims = new ClaimBook(_slots);
        _inbox = new WorkerInbox(controller, _slots, time);
        _record = new WorkerRecord(controller.Queue, id);
        _registration = new WorkerRegistration(controller, id, configName, config, time, _log);
        _separate = new SeparateRunner(evaluator, controller.Queue, _record,
            Path.Combine(Path.GetTempPath(), $"rrq-worker-{Environment.ProcessId}-{id}"), config.ReadyChildren, _log, time);
        _envir = new WorkerEnvironment(controller, evaluator, _record, _separate, _log, chatty);
        _sweep = new WorkerSweep(controller, id, config.HeartbeatPeriod, _log);
        _runner = new TaskRunner(controller, evaluator, id, config, _record, _separate, _claims, _inbox, _log, chatty);
        var idle = new IdleClock(time, config.TimeoutIdle);
        _upkeep = new WorkerUpkeep(config, evaluator, _separate, idle);
        var messages = new WorkerMessages(controller, evaluator, id, _record, _envir, idle, _registration.BuildInfo, _log, chatty);
        _stepper = new SlotStepper(new Claimer(controller, id, config, _claims, _inbox, chatty), _registration, _inbox, _envir,
            messages, _runner, _claims, idle, _upkeep);
        WorkerSlot.ReserveThreads(config.Concurrency);
        // Each outage is logged twice: when it starts, and with its length when Redis is back. The retry layer logs
        // to the controller's logger; a worker with an output writer of its own gets the lines there too.
        if (output is not null)
        {
            controller.Queue.Retry.Reported += Report;
        }
    }

    /// <summary>The worker's id.</summary>
    public string Id { get; }

    /// <summary>The name of the configuration it runs with.</summary>
    public string ConfigName { get; }

    /// <summary>Its configuration.</summary>
    public RrqWorkerConfig Config { get; }

    /// <summary>The queue it serves.</summary>
    public string QueueId => _controller.QueueId;

    /// <summary>The exit code of an <c>rrq-worker</c> process that stopped to be replaced (see
    /// <see cref="Recycled"/>): a supervisor should start it again.</summary>
    public const int RecycleExitCode = 3;

    /// <summary>Why the worker stopped to be replaced (a recycle limit of its config was reached after a
    /// task), or null when it was not. It left the queue cleanly between tasks, so nothing was lost;
    /// <see cref="RrqController.WorkerSpawn"/> restarts such workers by itself.</summary>
    public string? Recycled { get; private set; }

    /// <summary>The version of the worker environment it has loaded (0: none).</summary>
    public long EnvirVersion => _envir.Version;

    /// <summary>How many times an idle spell has given memory back.</summary>
    internal int HeapTrims => _upkeep.HeapTrims;

    /// <summary>
    /// Registers a worker in the controller's queue. It shares the controller's connection; the
    /// <c>rrq-worker</c> program gives each worker a controller (and connection) of its own.
    /// </summary>
    /// <param name="controller">The queue to serve.</param>
    /// <param name="evaluator">What runs the expressions (<c>new Rrq.Scripting.RoslynTaskEvaluator()</c>).</param>
    /// <param name="name">The worker id; default a random adjective_animal name.</param>
    /// <param name="config">The name of a saved worker configuration.</param>
    /// <param name="output">Where to print what it does (when the config is verbose); default nowhere.</param>
    /// <exception cref="RrqException">A live worker of that id exists, or the configuration does not.</exception>
    public static RrqWorker Create(RrqController controller, IRrqTaskEvaluator evaluator, string? name = null,
        string config = "localhost", TextWriter? output = null) =>
        CreateAsync(controller, evaluator, name, config, output).GetAwaiter().GetResult();

    /// <inheritdoc cref="Create"/>
    public static Task<RrqWorker> CreateAsync(RrqController controller, IRrqTaskEvaluator evaluator, string? name = null,
        string config = "localhost", TextWriter? output = null, CancellationToken cancellationToken = default) =>
        CreateAsync(controller, evaluator, name, config, output, time: null, cancellationToken);

    /// <summary>As the public form, on the clock <paramref name="time"/> (tests pass a fake one; default the system's).</summary>
    internal static async Task<RrqWorker> CreateAsync(RrqController controller, IRrqTaskEvaluator evaluator, string? name,
        string config, TextWriter? output, TimeProvider? time, CancellationToken cancellationToken = default)
    {
        RedisRetry.ForeverScope();
        ArgumentNullException.ThrowIfNull(controller);
        ArgumentNullException.ThrowIfNull(evaluator);
        name ??= await WorkerNames.UnusedBaseAsync(controller, 0).ConfigureAwait(false);
        QueueIdValidation.CheckName(name, "worker id", nameof(name));
        var cfg = await controller.WorkerConfigReadAsync(config, cancellationToken).ConfigureAwait(false);
        var worker = new RrqWorker(controller, evaluator, name, config, cfg, output, time ?? controller.Time);
        await worker.StartAsync().ConfigureAwait(false);
        return worker;
    }

    /// <summary>Registers, starts the heartbeat, listens, and loads the queue's environment if it has one.</summary>
    private async Task StartAsync()
    {
        await _registration.RegisterAsync(_sweep.RunAsync).ConfigureAwait(false);
        await _inbox.SubscribeAsync(Id, Config.EffectiveQueues).ConfigureAwait(false);
        Logging.RrqLog.WorkerStarted(Chatty, Id, QueueId, string.Join(", ", Config.EffectiveQueues));
        await _record.LogAsync("QUEUE", string.Join(",", Config.EffectiveQueues)).ConfigureAwait(false);
        await _envir.LoadIfAnyAsync().ConfigureAwait(false);
    }

    /// <summary>Whether it is this worker's turn to sweep, for 0.9 of its heartbeat period.</summary>
    internal Task<bool> TakeSweepTurnAsync() => _sweep.TakeTurnAsync();
    /// <summary>
    /// One step: answer a waiting message, or claim and run one task. With <paramref name="immediate"/>
    /// (the default) it returns at once when there is nothing to do; otherwise it waits for work up to
    /// the configured poll time. A cancellation token ends that wait; a task the step has taken runs
    /// to its end and is recorded.
    /// </summary>
    public RrqWorkerStep Step(bool immediate = true) => StepAsync(immediate).GetAwaiter().GetResult();

    /// <inheritdoc cref="Step"/>
    public Task<RrqWorkerStep> StepAsync(bool immediate = true, CancellationToken cancellationToken = default) =>
        StepAsync(_slots[0], immediate, cancellationToken);

    private async Task<RrqWorkerStep> StepAsync(WorkerSlot slot, bool immediate, CancellationToken cancellationToken)
    {
        RedisRetry.ForeverScope();   // a worker rides out a Redis outage, however long (see docs/fault-tolerance.md)
        if (_stopped != 0)
        {
            return new RrqWorkerStep(RrqWorkerStepKind.Stopped, Detail: "already stopped");
        }
        // A worker whose last claim found nothing goes straight to waiting: anything that came since woke it (the
        // wake is not cleared then), and claiming again now would only find nothing a second time. So an idle
        // worker runs one claim per poll period, not two.
        if (immediate || !slot.LastClaimIdle || slot.Next is not null || !_claims.Handed.IsEmpty)
        {
            if (slot.Next is null)
            {
                _inbox.TakeWake();
            }
            var step = await ClaimAndRunAsync(slot).ConfigureAwait(false);
            if (step.Kind != RrqWorkerStepKind.Idle || immediate)
            {
                return step;
            }
        }
        // Wait to be woken, but no longer than the poll time, or until a delayed retry comes due.
        await _inbox.WaitAsync(Config.PollQueue, cancellationToken).ConfigureAwait(false);
        return await ClaimAndRunAsync(slot).ConfigureAwait(false);
    }

    /// <summary>Runs until stopped: by a STOP message, the idle timeout, removal from the queue, or
    /// <paramref name="cancellationToken"/> (the current task runs to its end and is recorded first; the
    /// rrq-worker program cancels it on SIGTERM and Ctrl-C). Then the worker
    /// leaves the queue as EXITED.</summary>
    public async Task RunAsync(CancellationToken cancellationToken = default)
    {
        RedisRetry.ForeverScope();
        // Whatever it logs while it runs says which worker of which queue.
        using var scope = _log.BeginScope(new Dictionary<string, object> { ["WorkerId"] = Id, ["QueueId"] = QueueId });
        _stopToken = cancellationToken;
        _looping = true;
        try
        {
            if (_slots.Length == 1)
            {
                await SlotLoopAsync(_slots[0], cancellationToken).ConfigureAwait(false);
            }
            else
            {
                // Each slot runs its own loop of claims and tasks; they share the environment, the evaluator and the
                // connection. The worker leaves once every slot has recorded its last task.
                var loops = _slots.Select(slot => Task.Run(() => SlotLoopAsync(slot, cancellationToken), CancellationToken.None)).ToArray();
                await Task.WhenAll(loops).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Logging.RrqLog.Uncaught(_log, e, e.ToString());
            await ExitAsync("ERROR").ConfigureAwait(false);
            throw;
        }
        // A worker that a STOP message stopped (it has left), that is no longer registered, or that StopAsync stops
        // (which records its own reason) leaves no second record.
        if (Volatile.Read(ref _draining) is { } reason)
        {
            await ExitAsync(reason).ConfigureAwait(false);
        }
        else if (!_sawStopped && _stopping == 0)
        {
            await ExitAsync("OK (INTERRUPTED)").ConfigureAwait(false);
        }
    }

    /// <summary>One slot's loop: claims, runs and records tasks (answering messages between them) until the worker stops
    /// taking work. A task taken with the last one's outcome is run even when a stop was asked for meanwhile: it is
    /// RUNNING here already, and leaving it would make it DIED.</summary>
    private async Task SlotLoopAsync(WorkerSlot slot, CancellationToken cancellationToken)
    {
        try
        {
            while ((!cancellationToken.IsCancellationRequested && Volatile.Read(ref _draining) is null) || slot.Next is not null
                || !_claims.Handed.IsEmpty)
            {
                RrqWorkerStep step;
                try
                {
                    step = await StepAsync(slot, immediate: false, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    break;
                }
                if (step.Kind == RrqWorkerStepKind.Stopped)
                {
                    _sawStopped = true;
                    _inbox.WakeAll();
                    break;
                }
                // Between tasks: the other slots finish theirs, and take no more.
                if (_upkeep.DueToLeave(step, _runner.TasksRun, _claims.Active) is var (why, recycle) && Drain(why) && recycle is not null)
                {
                    Recycled = recycle;
                }
            }
        }
        catch
        {
            Drain("ERROR");   // the other slots stop taking work too
            throw;
        }
    }

    /// <summary>The worker takes no more work and leaves, with <paramref name="reason"/>, once its slots have recorded
    /// their tasks. False when it was draining already (for another reason).</summary>
    private bool Drain(string reason)
    {
        var first = Interlocked.CompareExchange(ref _draining, reason, null) is null;
        _inbox.WakeAll();
        return first;
    }

    /// <summary>Takes one step of work and carries it out. A task, once taken, runs to its end and is
    /// recorded whatever happens to the caller's token: abandoning it would leave it RUNNING on a worker
    /// that goes on (or DIED when it stops).</summary>
    private async Task<RrqWorkerStep> ClaimAndRunAsync(WorkerSlot slot)
    {
        if (_stopped != 0 || _stopping != 0)
        {
            return new RrqWorkerStep(RrqWorkerStepKind.Stopped, Detail: "stopping");
        }
        if (Volatile.Read(ref _draining) is not null && slot.Next is null && _claims.Handed.IsEmpty)
        {
            return new RrqWorkerStep(RrqWorkerStepKind.Stopped, Detail: "draining");
        }
        using var inStep = _inSteps.Enter();
        // A stop asked for between the check above and now waits for this step, or finds it did not start.
        return _stopping != 0 ? new RrqWorkerStep(RrqWorkerStepKind.Stopped, Detail: "stopping") : await StepCoreAsync(slot).ConfigureAwait(false);
    }

    private async Task<RrqWorkerStep> StepCoreAsync(WorkerSlot slot)
    {
        // Running by itself, with no stop or recycle due, the worker takes its next task as it records this one.
        var (step, stop, unregistered) = await _stepper.StepAsync(slot, _stopping != 0, tasksRun => _looping && _stopped == 0
            && _stopping == 0 && Volatile.Read(ref _draining) is null && !_stopToken.IsCancellationRequested
            && _upkeep.RecycleLimit(tasksRun) is null).ConfigureAwait(false);
        if (unregistered && StopOnce())
        {
            await _registration.ForgetAsync().ConfigureAwait(false);
        }
        else if (stop is not null && _slots.Length > 1 && _looping)
        {
            Drain(stop);   // tasks running in other slots are finished and recorded first; then the worker leaves
        }
        else if (stop is not null)
        {
            await ExitAsync(stop).ConfigureAwait(false);
        }
        return step;
    }

    /// <summary>
    /// Leaves the queue cleanly (EXITED), as a host does when it shuts down. A step in flight, such as a
    /// task running in <see cref="RunAsync"/> on another thread, is waited for and its outcome recorded
    /// first; no further step is taken. Cancelling <paramref name="cancellationToken"/> stops that wait:
    /// the worker then leaves at once and its running task becomes DIED (a separate process is killed).
    /// Safe to call twice; a worker stopped while it is idle leaves at once.
    /// </summary>
    public async Task StopAsync(string reason = "OK (BYE)", CancellationToken cancellationToken = default)
    {
        RedisRetry.ForeverScope();
        Interlocked.Exchange(ref _stopping, 1);
        _inbox.Wake();
        try
        {
            await _inSteps.WhenEndedAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Logging.RrqLog.StopNoLongerWaits(_log);
        }
        await ExitAsync(reason).ConfigureAwait(false);
        foreach (var slot in _slots)
        {
            slot.CancelSignal.TrySetResult();   // its loop stops supervising a separate process still running (the wait was cut short)
        }
        _separate.KillRunning(TimeSpan.FromSeconds(5));   // and the process is killed now, before this one may end
        _separate.RemoveFolder();   // its tasks are recorded (or DIED, with the exit): nothing of theirs is read there now
    }

    /// <inheritdoc cref="StopAsync"/>
    public void Stop(string reason = "OK (BYE)", TimeSpan? timeout = null)
    {
        using var cts = timeout is { } t ? new CancellationTokenSource(t) : null;
        StopAsync(reason, cts?.Token ?? CancellationToken.None).GetAwaiter().GetResult();
    }

    /// <summary>Leaves the queue now: the worker's own way out, from its loop or a STOP message.</summary>
    private async Task ExitAsync(string reason)
    {
        if (!StopOnce())
        {
            return;
        }
        await _inbox.UnsubscribeAsync().ConfigureAwait(false);
        // Tasks taken with the last ones' outcomes and not started (the loop did not take them first) go back.
        await _registration.LeaveAsync(reason, _claims.TakeNotStarted()).ConfigureAwait(false);
        Logging.RrqLog.Stopped(Chatty, reason);
    }

    /// <summary>The first call stops the worker's own activity (heartbeat, outage lines, children); false after.</summary>
    private bool StopOnce()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return false;
        }
        _registration.StopHeartbeat();
        _controller.Queue.Retry.Reported -= Report;
        _separate.Dispose();
        return true;
    }

    /// <summary>The logger for what a verbose worker tells as it goes (tasks, environments, messages); warnings
    /// and errors go to <see cref="_log"/> whatever the verbosity.</summary>
    private ILogger Chatty => Config.Verbose ? _log : Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    /// <summary>An outage line of the retry layer, for a worker with an output writer of its own.</summary>
    private void Report(string line) => Logging.RrqLog.RedisOutageLine(_log, line);

    /// <inheritdoc />
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _registration.Dispose();
        _inbox.Dispose();
        _envir.Dispose();
    }
}
