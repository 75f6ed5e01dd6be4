using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Rrq.Scripts;
using Rrq.Tasks;

namespace Rrq.Workers;

/// <summary>
/// Runs a task a slot has taken, in the worker's process or a child, and records its outcome (task_finish.lua), taking
/// the slot's next step in the same script when the worker may go on. Counts the tasks run, for recycling.
/// </summary>
internal sealed class TaskRunner(RrqController controller, IRrqTaskEvaluator evaluator, string workerId, RrqWorkerConfig config,
    WorkerRecord record, SeparateRunner separate, ClaimBook claims, WorkerInbox inbox, ILogger log, ILogger chatty)
{
    private int _tasksRun;

    /// <summary>The queues the worker knows of: its own first, in priority order (those are claimed from), then any a
    /// dependent released or a retry went to (recording an outcome needs their keys).</summary>
    private IReadOnlyList<string> _knownQueues = [.. config.EffectiveQueues];

    private string QueueId => controller.QueueId;

    /// <summary>How many tasks the worker has run (recorded, or found unreadable).</summary>
    public int TasksRun => Volatile.Read(ref _tasksRun);

    /// <summary>Runs <paramref name="task"/> in <paramref name="slot"/> and records its outcome. With
    /// <paramref name="claimNext"/> saying yes (asked once the task has run, with the count of tasks run), the slot's next
    /// step is claimed as the outcome is recorded, into <see cref="WorkerSlot.Next"/>.</summary>
    public async Task<RrqTaskStatus> RunAsync(WorkerSlot slot, ClaimedTask task, Func<int, bool> claimNext)
    {
        var taskId = task.Id;
        if (task.SeparateProcess)
        {
            Logging.RrqLog.TaskStartedSeparate(chatty, taskId);
        }
        else
        {
            Logging.RrqLog.TaskStarted(chatty, taskId);
        }
        var sw = Stopwatch.StartNew();
        var context = new RrqTaskContext(QueueId, taskId, workerId);
        // Decoded once here. Locals shared by a bulk submission are merged in, so the task (and a child
        // process) sees one plain payload.
        TaskPayload? payload = null;
        try
        {
            payload = RrqController.DecodePayload(task.Payload, controller.SigningKeys, QueueId, $"Task {taskId}'s payload", "task");
            if (payload.SharedId is not null)
            {
                payload = await controller.WithSharedAsync(payload).ConfigureAwait(false);
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
            Logging.RrqLog.TaskUnreadable(chatty, taskId, failed.Status.ToRedisString(), failed.Message ?? "");
            return failed.Status;
        }
        // Its spans join the submitter's trace; its code runs with Activity.Current in that trace (in a separate
        // process too), even when nothing in this process records Rrq's spans.
        using var run = TaskTrace.Start(QueueId, workerId, taskId, payload, task.SeparateProcess);
        context.TraceParent = run?.Id ?? payload.TraceParent;
        var outcome = task.SeparateProcess
            ? await separate.RunAsync(slot, context, payload, task.Timeout, task.SeparateNext).ConfigureAwait(false)
            : await RunHereAsync(context, payload).ConfigureAwait(false);

        var tasksRun = Interlocked.Increment(ref _tasksRun);
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
            written = await FinishAsync(slot, taskId, outcome, claimNext(tasksRun)).ConfigureAwait(false);
        }
        if (RrqTelemetry.Finished.Enabled || RrqTelemetry.Duration.Enabled)
        {
            KeyValuePair<string, object?>[] tags = [new("rrq.queue_id", QueueId), new("rrq.status", status)];
            RrqTelemetry.Finished.Add(1, tags);
            RrqTelemetry.Duration.Record(sw.Elapsed.TotalSeconds, tags);
        }
        if (written < 0)
        {
            Logging.RrqLog.TaskDropped(log, taskId, status);
        }
        else if (outcome.Message is null)
        {
            Logging.RrqLog.TaskFinished(chatty, taskId, status, Math.Round(sw.Elapsed.TotalMilliseconds, 1));
        }
        else
        {
            Logging.RrqLog.TaskFinishedWith(chatty, taskId, status, Math.Round(sw.Elapsed.TotalMilliseconds, 1), outcome.Message);
        }
        return outcome.Status;
    }

    /// <summary>In the worker's own process. Progress reports are sent in order on the worker's connection, all before
    /// the outcome is recorded.</summary>
    private async Task<TaskOutcome> RunHereAsync(RrqTaskContext context, TaskPayload payload)
    {
        var reports = new List<Task>();
        context.ProgressSink = bytes =>
        {
            lock (reports)
            {
                reports.Add(record.NoteFieldAsync(controller.Keys.TaskProgress, context.TaskId, bytes));
            }
        };
        var outcome = await TaskExecution.RunAsync(evaluator, context, payload, controller.Values, CancellationToken.None).ConfigureAwait(false);
        context.ProgressSink = null;
        Task[] sent;
        lock (reports)
        {
            sent = [.. reports];
        }
        await Task.WhenAll(sent).ConfigureAwait(false);
        return outcome;
    }

    /// <summary>Records a task's outcome (and, with <paramref name="claimNext"/>, claims the slot's next step). Releasing
    /// dependents needs the keys of their queues: the worker passes every queue it knows of, and learns of one the
    /// script names. Returns task_finish's code (<see cref="FinishReply.Written"/>).</summary>
    private async Task<long> FinishAsync(WorkerSlot slot, string taskId, TaskOutcome outcome, bool claimNext)
    {
        var nextToken = claims.NewToken();
        var (argument, reserved) = claimNext ? claims.SlotsArgument(slot) : ("", 0);
        FinishReply reply;
        try
        {
            (reply, _knownQueues) = await controller.Queue.FinishAsync(taskId, workerId, outcome, slot.TaskToken,
                claimNext ? config.EffectiveQueues.Count : 0, nextToken, _knownQueues, argument ?? "").ConfigureAwait(false);
            // A task taken now is run next. Finding nothing puts the worker back in its queues' idle sets: a submission
            // from then on hands it a task or wakes it, so its next step waits for that rather than claiming again.
            slot.Next = reply.Next is { Kind: not ClaimKind.Idle } next ? claims.KeepFirst(next, nextToken, inbox.Wake) : null;
            if (reply.Next is { Kind: ClaimKind.Idle } idle)
            {
                slot.FinishFoundNothing = true;
                inbox.NextDue = idle.NextDue;
            }
        }
        finally
        {
            claims.Unreserve(reserved);
        }
        claims.Forget(slot.TaskToken);
        slot.NextToken = nextToken;
        if (slot.Next is not { Kind: ClaimKind.Task })
        {
            claims.Forget(nextToken);
        }
        if (reply.Written == 3)
        {
            // More dependents to release or fail than one script does: the rest, before the next task.
            await controller.Queue.WalksDrainAsync(CancellationToken.None, _knownQueues).ConfigureAwait(false);
            return 1;
        }
        return reply.Written;
    }
}
