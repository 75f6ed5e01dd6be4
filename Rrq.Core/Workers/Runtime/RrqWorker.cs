using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Rrq.Connection;
using Rrq.Keys;
using Rrq.Scripts;
using Rrq.Store;
using Rrq.Tasks;
using Rrq.Workers;
using StackExchange.Redis;

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
    private readonly IRrqTaskEvaluator _evaluator;
    /// <summary>Where the worker logs: its output writer as lines, else the controller's logger.</summary>
    private readonly ILogger _log;
    /// <summary>Released to wake a slot waiting for work (at most one count per slot).</summary>
    private readonly SemaphoreSlim _wake;
    private readonly List<RedisChannel> _channels = [];
    private readonly string _workDir;
    private string[] _knownQueues;
    private DateTimeOffset? _nextDue;
    private Heartbeat? _heartbeat;
    private readonly WorkerRecord _record;
    private readonly SeparateRunner _separate;
    private readonly WorkerEnvironment _envir;
    private readonly WorkerSweep _sweep;

    /// <summary>The worker's slots: one per task it may run at once (<see cref="RrqWorkerConfig.Concurrency"/>).</summary>
    private readonly WorkerSlot[] _slots;

    /// <summary>The claim protocol's book: tokens, reservations, busy slots, tasks handed between slots.</summary>
    private readonly ClaimBook _claims;

    /// <summary>Tasks handed to this worker at submission (include/handoff.lua), as their messages came, for a free slot to
    /// take up. Taking one up (task_ack.lua) fails when the worker's own claim took the task first, or it was cancelled
    /// or deleted meanwhile: the ack, not the worker, decides, so a message that comes late runs nothing twice.</summary>
    private readonly System.Collections.Concurrent.ConcurrentQueue<Handoff> _handoffs = new();

    /// <summary>Set when the worker has stopped taking work and waits for its slots to drain (recycle, STOP message to a
    /// worker of several slots, idle timeout), with why it will leave.</summary>
    private string? _draining;

    /// <summary>One environment load at a time; compiling for children too.</summary>
    /// <summary>The worker's clock (the system's, or a test's).</summary>
    private readonly TimeProvider _time;
    private readonly IdleClock _idle;
    private readonly WorkerMessages _messages;
    private int _stopped;

    /// <summary>Set by <see cref="StopAsync"/>: take no further step.</summary>
    private int _stopping;

    /// <summary>The steps in flight (claim, task or message, and its record), each completed when it is over.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<TaskCompletionSource, byte> _inSteps = new();

    private RrqWorker(RrqController controller, IRrqTaskEvaluator evaluator, string id, string configName,
        RrqWorkerConfig config, TextWriter? output, TimeProvider time)
    {
        _time = time;
        _started = time.GetUtcNow();
        _controller = controller;
        _evaluator = evaluator;
        Id = id;
        ConfigName = configName;
        Config = config;
        _log = output is null ? controller.Logger : new Logging.LineLoggerProvider(output).CreateLogger("Rrq");
        _workDir = Path.Combine(Path.GetTempPath(), $"rrq-worker-{Environment.ProcessId}-{id}");
        _record = new WorkerRecord(controller.Queue, id);
        _separate = new SeparateRunner(evaluator, controller.Queue, _record, _workDir, config.ReadyChildren, _log, time);
        _envir = new WorkerEnvironment(controller, evaluator, _record, _separate, _log, Chatty);
        _sweep = new WorkerSweep(controller, id, config.HeartbeatPeriod, _log);
        _knownQueues = [.. config.EffectiveQueues];
        _slots = [.. Enumerable.Range(0, config.Concurrency).Select(i => new WorkerSlot(i, i == 0 ? id : $"{id}#{i}"))];
        _claims = new ClaimBook(_slots);
        _wake = new SemaphoreSlim(0, config.Concurrency);
        if (config.Concurrency > 1)
        {
            // Task code runs on thread-pool threads and may block (I/O, sleeps, locks). The pool adds threads only
            // slowly past its minimum (about one a second), so without this the slots of a worker whose tasks block
            // would start one by one, seconds apart; and the connection's replies need threads too.
            ThreadPool.GetMinThreads(out var workers, out var io);
            var needed = Environment.ProcessorCount + config.Concurrency + 2;
            if (workers < needed)
            {
                ThreadPool.SetMinThreads(needed, io);
            }
        }
        _idle = new IdleClock(time, config.TimeoutIdle);
        _messages = new WorkerMessages(controller, evaluator, id, _record, _envir, _idle, BuildInfo, _log, Chatty);
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
        var worker = new RrqWorker(controller, evaluator, name, config, cfg, output, time ?? TimeProvider.System);
        await worker.RegisterAsync().ConfigureAwait(false);
        return worker;
    }

    private async Task<long> RegisterScriptAsync(bool rejoin)
    {
        return await _controller.Queue.WorkerRegisterAsync(Id, JsonSerializer.Serialize(BuildInfo(), RrqController.JsonOptions),
            Config.HeartbeatPeriod * Heartbeat.Multiplier, rejoin).ConfigureAwait(false);
    }

    private async Task RegisterAsync()
    {
        var k = _controller.Keys;
        var registered = await RegisterScriptAsync(rejoin: false).ConfigureAwait(false);
        if (registered == -3)
        {
            throw new RrqException($"Queue '{QueueId}' does not exist (it was destroyed as worker '{Id}' started): nothing was written.");
        }
        if (registered < 0)
        {
            throw new RrqException($"A live worker named '{Id}' is already registered in queue '{QueueId}'. " +
                "Pick another name (or stop that worker first).");
        }
        if (Config.HeartbeatPeriod is { } beat)
        {
            _heartbeat = new Heartbeat(_controller.Queue, Id, beat,
                Config.DetectLostWorkers ? _sweep.RunAsync : null, note => Logging.RrqLog.Heartbeat(_log, note));
            _heartbeat.Start();
        }
        var sub = _controller.Redis.GetSubscriber();
        _channels.AddRange([.. Config.EffectiveQueues.Select(k.QueueChannel), k.WorkerChannel(Id), k.WorkersChannel]);
        foreach (var ch in _channels)
        {
            await sub.SubscribeAsync(ch, (_, message) => OnNotification(message)).ConfigureAwait(false);
        }
        Logging.RrqLog.WorkerStarted(Chatty, Id, QueueId, string.Join(", ", Config.EffectiveQueues));
        await _record.LogAsync("QUEUE", string.Join(",", Config.EffectiveQueues)).ConfigureAwait(false);
        if (await _controller.Queue.RunAsync(db => db.HashExistsAsync(k.Envir, "spec")).ConfigureAwait(false))
        {
            await _envir.LoadAsync().ConfigureAwait(false);
        }
    }

    private readonly DateTimeOffset _started;

    private RrqWorkerInfo BuildInfo() => new(Id, Environment.MachineName, Environment.ProcessId, Environment.UserName, ConfigName,
        Config.EffectiveQueues, typeof(RrqWorker).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "?",
        $"{RuntimeInformation.FrameworkDescription} on {RuntimeInformation.OSDescription}", _started,
        Config.HeartbeatPeriod is null ? null : (string?)_controller.Keys.WorkerHeartbeat(Id))
    {
        ProcessStarted = ProcessKill.StartTime(Environment.ProcessId),
        Concurrency = Config.Concurrency,
        SlurmJob = RrqSlurmLauncher.JobOfThisProcess(),
    };

    private void OnNotification(RedisValue message)
    {
        if (Handoff.TryParse(message) is { } handoff)
        {
            _handoffs.Enqueue(handoff);
            Wake();
            return;
        }
        var text = (string?)message;
        if (text is not null && text.StartsWith("cancel ", StringComparison.Ordinal))
        {
            foreach (var slot in _slots)
            {
                if (slot.SeparateTask == text[7..])
                {
                    slot.CancelSignal.TrySetResult();
                }
            }
        }
        Wake();
    }

    /// <summary>Whether it is this worker's turn to sweep, for 0.9 of its heartbeat period.</summary>
    internal Task<bool> TakeSweepTurnAsync() => _sweep.TakeTurnAsync();

    /// <summary>Wakes every slot waiting for work (to stop, or to look again).</summary>
    private void WakeAll()
    {
        for (var i = 0; i < _slots.Length; i++)
        {
            Wake();
        }
    }

    private void Wake()
    {
        try
        {
            _wake.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already signalled.
        }
        catch (ObjectDisposedException)
        {
            // Stopped.
        }
    }

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
                _wake.Wait(0, CancellationToken.None);
            }
            var step = await ClaimAndRunAsync(slot).ConfigureAwait(false);
            if (step.Kind != RrqWorkerStepKind.Idle || immediate)
            {
                return step;
            }
        }
        // Wait to be woken, but no longer than the poll time, or until a delayed retry comes due.
        var wait = Config.PollQueue;
        if (_nextDue is { } due && due - _time.GetUtcNow() < wait)
        {
            wait = due - _time.GetUtcNow() > TimeSpan.Zero ? due - _time.GetUtcNow() : TimeSpan.Zero;
        }
        await _wake.WaitAsync(wait, cancellationToken).ConfigureAwait(false);
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

    /// <summary>Set while the server answers that the queue does not exist, and it was not destroyed (see RrqKeys.Destroyed).</summary>
    private bool _queueAbsent;

    /// <summary>How often a worker looks again for a queue whose data its server lacks.</summary>
    private static readonly TimeSpan QueueAbsentLook = TimeSpan.FromSeconds(1);

    /// <summary>Set when a step found the worker stopped or stopping.</summary>
    private bool _sawStopped;

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
                    WakeAll();
                    break;
                }
                if (step.Kind == RrqWorkerStepKind.Task && RecycleLimit(Volatile.Read(ref _tasksRun)) is { } limit)
                {
                    // Between tasks: the other slots finish theirs, and take no more.
                    if (Drain($"OK (RECYCLE: {limit})"))
                    {
                        Recycled = limit;
                    }
                }
                if (step.Kind == RrqWorkerStepKind.Idle && _idle.TimedOut && _claims.Active == 0)
                {
                    Drain("OK (TIMEOUT)");
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
        WakeAll();
        return first;
    }

    private int _tasksRun;
    private bool _looping;
    private CancellationToken _stopToken;

    /// <summary>The recycle limit reached after <paramref name="tasksRun"/> tasks, if any (checked between tasks).</summary>
    private string? RecycleLimit(int tasksRun)
    {
        if (Config.RecycleAfterTasks is { } tasks && tasksRun >= tasks)
        {
            return $"ran {tasksRun} tasks";
        }
        if (Config.RecycleAfterCompiles is { } compiles && _evaluator.CompiledCount >= compiles)
        {
            return $"compiled {_evaluator.CompiledCount} expressions";
        }
        if (Config.RecycleMemoryBytes is { } bytes && Environment.WorkingSet >= bytes)
        {
            return $"working set {Environment.WorkingSet / (1024 * 1024)} MiB";
        }
        return null;
    }

    /// <summary>Takes one step of work and carries it out. A task, once taken, runs to its end and is
    /// recorded whatever happens to the caller's token: abandoning it would leave it RUNNING on a worker
    /// that goes on (or DIED when it stops).</summary>
    private async Task<RrqWorkerStep> ClaimAndRunAsync(WorkerSlot slot)
    {
        slot.FinishFoundNothing = false;
        var step = await ClaimAndRunOnceAsync(slot).ConfigureAwait(false);
        slot.LastClaimIdle = step.Kind == RrqWorkerStepKind.Idle || (step.Kind == RrqWorkerStepKind.Task && slot.FinishFoundNothing);
        return step;
    }

    private async Task<RrqWorkerStep> ClaimAndRunOnceAsync(WorkerSlot slot)
    {
        if (_stopped != 0 || _stopping != 0)
        {
            return new RrqWorkerStep(RrqWorkerStepKind.Stopped, Detail: "stopping");
        }
        if (Volatile.Read(ref _draining) is not null && slot.Next is null && _claims.Handed.IsEmpty)
        {
            return new RrqWorkerStep(RrqWorkerStepKind.Stopped, Detail: "draining");
        }
        var inStep = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _inSteps.TryAdd(inStep, 0);
        try
        {
            // A stop asked for between the check above and now waits for this step, or finds it did not start.
            return _stopping != 0 ? new RrqWorkerStep(RrqWorkerStepKind.Stopped, Detail: "stopping") : await StepCoreAsync(slot).ConfigureAwait(false);
        }
        finally
        {
            _inSteps.TryRemove(inStep, out _);
            inStep.TrySetResult();
        }
    }

    private async Task<RrqWorkerStep> StepCoreAsync(WorkerSlot slot)
    {
        var r = Interlocked.Exchange(ref slot.Next, null);
        var token = slot.NextToken;
        if (r is null && !_claims.Handed.IsEmpty)
        {
            _claims.SetActive(slot, true);   // counted busy before the handed task leaves the queue, so no claim takes one for it
            if (_claims.Handed.TryDequeue(out var handed))
            {
                (r, token) = handed;   // taken by another slot's claim for this one
            }
            else
            {
                _claims.SetActive(slot, false);
            }
        }
        if (r is null && _handoffs.TryDequeue(out var handoff))
        {
            // Handed over at submission: it becomes RUNNING here once taken up under a token of this worker's. (This costs
            // no time: a task's outcome is recorded after its take-up in any case.)
            token = _claims.NewToken();
            _claims.SetActive(slot, true);
            if (await _controller.Queue.TaskAckAsync(handoff.TaskId, Id, token, Config.EffectiveQueues).ConfigureAwait(false))
            {
                r = handoff.Reply;
            }
            else
            {
                // Cancelled, deleted or taken by a claim meanwhile: it does not run here. The worker looks for work at
                // once (its claim also clears what it held, and lets it be handed tasks again).
                _claims.Forget(token);
                _claims.SetActive(slot, false);
                Logging.RrqLog.HandoffGone(Chatty, handoff.TaskId);
            }
        }
        if (r is null)
        {
            // A claim repeated after a lost reply carries the same token, and so gets the same answer.
            var (argument, reserved) = _claims.SlotsArgument(slot);
            if (argument is null)
            {
                return new RrqWorkerStep(RrqWorkerStepKind.Idle, Detail: "another slot claims for it");
            }
            token = _claims.NewToken();
            try
            {
                r = await _controller.Queue.ClaimAsync(Id, Config.EffectiveQueues, token, argument).ConfigureAwait(false);
                if ((long)r[0] == 2)
                {
                    _claims.SetActive(slot, true);
                }
                else
                {
                    _claims.Forget(token);
                }
                r = _claims.KeepFirst(r, token, Wake);
            }
            finally
            {
                _claims.Unreserve(reserved);
            }
        }
        var kind = (long)r[0];
        var version = (long)r[1];
        if (kind == -1 && _stopping == 0)
        {
            var again = await RegisterScriptAsync(rejoin: true).ConfigureAwait(false);
            if (again == 1)
            {
                // Declared lost while out of touch (an outage longer than its heartbeat, or the process frozen): what it
                // was running is DIED (or retried) already, and its late outcome was dropped. Or the queue's data was lost
                // and a controller has made the queue again.
                Logging.RrqLog.Rejoined(_log);
                _queueAbsent = false;
                return new RrqWorkerStep(RrqWorkerStepKind.Idle, Detail: "rejoined");
            }
            if (again == -3 && !await _controller.Queue.RunAsync(db => db.KeyExistsAsync(_controller.Keys.Destroyed)).ConfigureAwait(false))
            {
                // None of the queue is on the server it reached, and nothing says the queue was destroyed: one server's
                // empty answer (a restart without persistence, an old master back empty during a failover) is no reason
                // to leave. It looks again each second, and goes on when the queue is back.
                if (!_queueAbsent)
                {
                    _queueAbsent = true;
                    Logging.RrqLog.QueueDataMissing(_log, QueueId, _controller.Address.Endpoints);
                }
                _nextDue = _time.GetUtcNow() + QueueAbsentLook;
                return new RrqWorkerStep(RrqWorkerStepKind.Idle, Detail: "queue data missing");
            }
        }
        if (kind != -1 && _queueAbsent)
        {
            _queueAbsent = false;
            Logging.RrqLog.QueueDataBack(_log, QueueId);
        }
        if (kind == -1)
        {
            Interlocked.Exchange(ref _stopped, 1);
            // Its heartbeat would only make it look alive again (or, after a destroy, bring a key back).
            _heartbeat?.Dispose();
            _controller.Queue.Retry.Reported -= Report;
            await _controller.Queue.RunAsync(db => db.KeyDeleteAsync(_controller.Keys.WorkerHeartbeat(Id))).ConfigureAwait(false);
            _separate.Dispose();
            Logging.RrqLog.Unregistered(_log);
            return new RrqWorkerStep(RrqWorkerStepKind.Stopped, Detail: "not registered");
        }
        if (_envir.IsNew(version))
        {
            await _envir.LoadAsync(version).ConfigureAwait(false);
        }
        switch (kind)
        {
            case 1:
                var (step, stop) = await _messages.HandleAsync((string)r[2]!).ConfigureAwait(false);
                if (stop is not null)
                {
                    if (_slots.Length > 1 && _looping)
                    {
                        Drain(stop);   // tasks running in other slots are finished and recorded first; then the worker leaves
                    }
                    else
                    {
                        await ExitAsync(stop).ConfigureAwait(false);
                    }
                }
                return step;
            case 2:
                var timeout = (string?)r[5] is { Length: > 0 } secs
                    ? TimeSpan.FromSeconds(double.Parse(secs, System.Globalization.CultureInfo.InvariantCulture)) : (TimeSpan?)null;
                slot.TaskToken = token;
                _claims.SetActive(slot, true);
                var separateNext = r.Length > 6 ? (int)r[6] : 0;
                var (taskId, status) = await RunTaskAsync(slot, (string)r[2]!, (byte[]?)r[3], (string?)r[4] == "FALSE", timeout, separateNext)
                    .ConfigureAwait(false);
                _idle.Touch();
                if (slot.Next is null)
                {
                    _claims.SetActive(slot, false);
                }
                return new RrqWorkerStep(RrqWorkerStepKind.Task, taskId, status);
            default:
                // Idle for a while (not just between two tasks): one child stays ready for the next
                // separate-process task, not more; and, once per idle spell, the memory a burst of tasks left in the
                // heap goes back to the system (the collector's budget scales with the CPU cache, so a busy worker
                // can hold tens of MiB it no longer uses).
                if (_claims.Active == 0 && _idle.Idle >= IdleChildrenAfter)
                {
                    _separate.Trim(Math.Min(1, Config.ReadyChildren));
                    if (Interlocked.Exchange(ref _trimmedSince, _tasksRun) != _tasksRun)
                    {
                        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
                        HeapTrims++;
                    }
                }
                _nextDue = (string?)r[2] is { Length: > 0 } due
                    ? DateTimeOffset.FromUnixTimeMilliseconds((long)double.Parse(due, System.Globalization.CultureInfo.InvariantCulture))
                    : null;
                return new RrqWorkerStep(RrqWorkerStepKind.Idle);
        }
    }

    /// <summary>How long a worker finds nothing to do before it stops all but one of its ready children, and gives
    /// the memory its heap no longer uses back.</summary>
    private static readonly TimeSpan IdleChildrenAfter = TimeSpan.FromSeconds(2);

    /// <summary>How many tasks the worker had run when it last gave memory back (once per idle spell).</summary>
    private int _trimmedSince;

    /// <summary>How many times an idle spell has given memory back.</summary>
    internal int HeapTrims { get; private set; }

    private async Task<(string, RrqTaskStatus)> RunTaskAsync(WorkerSlot slot, string taskId, byte[]? rawPayload, bool separateProcess,
        TimeSpan? timeout, int separateNext)
    {
        if (separateProcess)
        {
            Logging.RrqLog.TaskStartedSeparate(Chatty, taskId);
        }
        else
        {
            Logging.RrqLog.TaskStarted(Chatty, taskId);
        }
        var sw = Stopwatch.StartNew();
        var context = new RrqTaskContext(QueueId, taskId, Id);
        // Decoded once here. Locals shared by a bulk submission are merged in, so the task (and a child
        // process) sees one plain payload.
        Tasks.TaskPayload? payload = null;
        try
        {
            payload = RrqController.DecodePayload(rawPayload, _controller.SigningKeys, QueueId, $"Task {taskId}'s payload", "task");
            if (payload.SharedId is not null)
            {
                payload = await _controller.WithSharedAsync(payload).ConfigureAwait(false);
            }
        }
        catch (RrqException e) when (e is RrqValueException or RrqSignatureException)
        {
            // Unreadable, not signed by the queue's key, or its shared locals gone or refused: nothing of it is compiled
            // or run, and the task is ERROR saying why.
            var failed = payload is null && e is RrqValueException unreadable
                ? TaskExecution.UnreadablePayload(context, unreadable)
                : TaskExecution.Error(context, new RrqEvaluation { Message = e.Message, ExceptionType = e.GetType().FullName });
            Interlocked.Increment(ref _tasksRun);
            await FinishAsync(slot, taskId, failed, claimNext: false).ConfigureAwait(false);
            Logging.RrqLog.TaskUnreadable(Chatty, taskId, failed.Status.ToRedisString(), failed.Message ?? "");
            return (taskId, failed.Status);
        }
        // Its spans join the submitter's trace; its code runs with Activity.Current in that trace (in a separate
        // process too), even when nothing in this process records Rrq's spans.
        using var run = TaskTrace.Start(QueueId, Id, taskId, payload, separateProcess);
        context.TraceParent = run?.Id ?? payload.TraceParent;
        TaskOutcome outcome;
        if (separateProcess)
        {
            outcome = await _separate.RunAsync(slot, context, payload, timeout, separateNext).ConfigureAwait(false);
        }
        else
        {
            // Reports are sent in order on the worker's connection, all before the outcome is recorded.
            var reports = new List<Task>();
            context.ProgressSink = bytes =>
            {
                lock (reports)
                {
                    reports.Add(_record.NoteFieldAsync(_controller.Keys.TaskProgress, taskId, bytes));
                }
            };
            outcome = await TaskExecution.RunAsync(_evaluator, context, payload, _controller.Values, CancellationToken.None).ConfigureAwait(false);
            context.ProgressSink = null;
            Task[] sent;
            lock (reports)
            {
                sent = [.. reports];
            }
            await Task.WhenAll(sent).ConfigureAwait(false);
        }

        var tasksRun = Interlocked.Increment(ref _tasksRun);
        // Running by itself, with no stop or recycle due, the worker takes its next task as it records this one.
        var claimNext = _looping && _stopped == 0 && _stopping == 0 && Volatile.Read(ref _draining) is null
            && !_stopToken.IsCancellationRequested && RecycleLimit(tasksRun) is null;
        var status = outcome.Status.ToRedisString();
        run?.SetTag("rrq.status", status);
        if (outcome.Status != RrqTaskStatus.Complete)
        {
            run?.SetStatus(ActivityStatusCode.Error, outcome.Message);
        }
        long written;
        using (var finish = RrqTelemetry.Source.StartActivity("rrq.finish"))
        {
            finish?.SetTag("rrq.task_id", taskId);
            written = await FinishAsync(slot, taskId, outcome, claimNext).ConfigureAwait(false);
        }
        if (RrqTelemetry.Finished.Enabled || RrqTelemetry.Duration.Enabled)
        {
            KeyValuePair<string, object?>[] tags = [new("rrq.queue_id", QueueId), new("rrq.status", status)];
            RrqTelemetry.Finished.Add(1, tags);
            RrqTelemetry.Duration.Record(sw.Elapsed.TotalSeconds, tags);
        }
        if (written < 0)
        {
            Logging.RrqLog.TaskDropped(_log, taskId, outcome.Status.ToRedisString());
        }
        else
        {
            var ms = Math.Round(sw.Elapsed.TotalMilliseconds, 1);
            if (outcome.Message is null)
            {
                Logging.RrqLog.TaskFinished(Chatty, taskId, outcome.Status.ToRedisString(), ms);
            }
            else
            {
                Logging.RrqLog.TaskFinishedWith(Chatty, taskId, outcome.Status.ToRedisString(), ms, outcome.Message);
            }
        }
        return (taskId, outcome.Status);
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
        Wake();
        if (!_inSteps.IsEmpty)
        {
            try
            {
                await Task.WhenAll(_inSteps.Keys.Select(s => s.Task)).WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                Logging.RrqLog.StopNoLongerWaits(_log);
            }
        }
        await ExitAsync(reason).ConfigureAwait(false);
        foreach (var slot in _slots)
        {
            slot.CancelSignal.TrySetResult();   // a separate process still running (the wait was cut short) is killed
        }
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
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }
        _heartbeat?.Dispose();
        _controller.Queue.Retry.Reported -= Report;
        _separate.Dispose();
        var sub = _controller.Redis.GetSubscriber();
        foreach (var ch in _channels)
        {
            await sub.UnsubscribeAsync(ch).ConfigureAwait(false);
        }
        // Tasks taken with the last ones' outcomes and not started (the loop did not take them first) go back.
        var taken = _slots.Select(slot => Interlocked.Exchange(ref slot.Next, null)).ToList();
        while (_claims.Handed.TryDequeue(out var handed))
        {
            taken.Add(handed.Reply);
        }
        var notStarted = taken.Where(t => t is { Length: > 2 } && (long)t[0] == 2).Select(t => (string)t![2]!).ToArray();
        // Leaving is the one step a worker does not retry for ever: a worker told to stop during an outage
        // stops, and is declared lost once its heartbeat expires (its task, if any, DIED).
        using var exitBudget = new CancellationTokenSource(ExitBudget);
        try
        {
            await _controller.WorkerExitAsync(Id, "STOP " + reason, notStarted, exitBudget.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (RedisFaults.IsTransient(e) || e is RrqConnectionException)
        {
            Logging.RrqLog.ExitNotRecorded(_log, Math.Round(ExitBudget.TotalSeconds), RedisFaults.Describe(e));
        }
        try
        {
            if (Directory.Exists(_workDir))
            {
                Directory.Delete(_workDir, recursive: true);
            }
        }
        catch (IOException)
        {
        }
        Logging.RrqLog.Stopped(Chatty, reason);
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

    /// <summary>How long a leaving worker keeps trying to record its exit through an outage.</summary>
    internal static readonly TimeSpan ExitBudget = TimeSpan.FromSeconds(15);

    /// <summary>Records a task's outcome. Releasing dependents needs the keys of their queues: the
    /// worker passes every queue it knows of, and learns the queue list again if the script names one
    /// it lacks.</summary>
    private async Task<long> FinishAsync(WorkerSlot slot, string taskId, TaskOutcome outcome, bool claimNext)
    {
        var nextToken = _claims.NewToken();
        var (argument, reserved) = claimNext ? _claims.SlotsArgument(slot) : ("", 0);
        RedisResult[] r;
        try
        {
            // The worker's own queues come first in the list, in priority order: those are claimed from. A dependent
            // released, or a retry, in a queue it did not know of is added (and kept for next time).
            r = await QueueContext.WithQueuesAsync(_knownQueues, async queues =>
            {
                _knownQueues = [.. queues];
                return await _controller.Queue.FinishAsync(taskId, Id, outcome, slot.TaskToken, claimNext ? Config.EffectiveQueues.Count : 0,
                    nextToken, queues, argument ?? "").ConfigureAwait(false);
            }).ConfigureAwait(false);
            // A task taken now is run next. Finding nothing puts the worker back in its queues' idle sets: a submission
            // from then on hands it a task or wakes it, so its next step waits for that rather than claiming again.
            slot.Next = r.Length > 1 && (long)r[1] != 0 ? _claims.KeepFirst(r[1..], nextToken, Wake) : null;
            if (r.Length > 3 && (long)r[1] == 0)
            {
                // Nothing to do: the worker is in its queues' idle sets again, so a submission wakes it.
                slot.FinishFoundNothing = true;
                _nextDue = (string?)r[3] is { Length: > 0 } due
                    ? DateTimeOffset.FromUnixTimeMilliseconds((long)double.Parse(due, System.Globalization.CultureInfo.InvariantCulture))
                    : null;
            }
        }
        finally
        {
            _claims.Unreserve(reserved);
        }
        _claims.Forget(slot.TaskToken);
        slot.NextToken = nextToken;
        if (slot.Next is not { Length: > 0 } next || (long)next[0] != 2)
        {
            _claims.Forget(nextToken);
        }
        if ((long)r[0] == 3)
        {
            // More dependents to release or fail than one script does: the rest, before the next task.
            await _controller.Queue.WalksDrainAsync(CancellationToken.None, _knownQueues).ConfigureAwait(false);
            return 1;
        }
        return (long)r[0];
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
        _wake.Dispose();
        _envir.Dispose();
    }
}
