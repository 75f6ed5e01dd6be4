using Rrq.Scripts;
using Rrq.Workers;

namespace Rrq;

public sealed partial class RrqController
{
    /// <summary>
    /// Finds workers whose heartbeat key has expired (rrq's <c>rrq_worker_detect_exited</c>): each
    /// becomes LOST and the task it was running DIED. Workers without a heartbeat are never declared
    /// lost. Running workers with a heartbeat also do this by themselves every heartbeat period, so
    /// calling it is only needed when no such worker is left.
    /// </summary>
    public RrqDetectExitedResult WorkerDetectExited() => WorkerDetectExitedAsync().GetAwaiter().GetResult();

    /// <summary>The workers that are alive now: on the queue's worker list and, for those with a heartbeat, with it
    /// current (a worker whose heartbeat expired is not alive even before anyone declares it LOST).</summary>
    internal async Task<IReadOnlyList<string>> WorkerAliveAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        var live = await WorkerListAsync(cancellationToken).ConfigureAwait(false);
        if (live.Count == 0)
        {
            return [];
        }
        var infos = await WorkerInfoAsync(live, cancellationToken).ConfigureAwait(false);
        var keys = live.Select(w => infos.TryGetValue(w, out var i) ? i.HeartbeatKey : null).ToArray();
        var beating = await Queue.HeartbeatsThereAsync(keys, cancellationToken).ConfigureAwait(false);
        return live.Where((_, i) => beating[i]).ToArray();
    }

    /// <inheritdoc cref="WorkerDetectExited"/>
    public async Task<RrqDetectExitedResult> WorkerDetectExitedAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        var infos = await WorkerInfoAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        var withHeartbeat = infos.Values.Where(i => i.HeartbeatKey is not null).ToArray();
        var alive = await Queue.HeartbeatsThereAsync([.. withHeartbeat.Select(i => i.HeartbeatKey)], cancellationToken).ConfigureAwait(false);

        var lost = new List<string>();
        var orphaned = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        for (var i = 0; i < withHeartbeat.Length; i++)
        {
            if (alive[i])
            {
                continue;
            }
            var w = withHeartbeat[i].WorkerId;
            var (declared, orphan) = await Queue.WorkerLostAsync(w,
                $"its worker {w} was declared lost at {Time.GetUtcNow():yyyy-MM-dd HH:mm:ss} UTC: its heartbeat had expired, so the " +
                "worker's process died, froze or was cut off from Redis", cancellationToken).ConfigureAwait(false);
            if (declared)
            {
                lost.Add(w);
                if (orphan.Length > 0)
                {
                    orphaned[w] = orphan;
                }
            }
        }
        if (orphaned.Count > 0)
        {
            await Queue.WalksDrainAsync(cancellationToken).ConfigureAwait(false);
        }
        return new RrqDetectExitedResult(lost.Order(NaturalComparer.Instance).ToArray(), orphaned);
    }

    /// <summary>
    /// Cancels a task (rrq's <c>rrq_task_cancel</c>). A PENDING or DEFERRED task becomes CANCELLED and leaves its queue
    /// (the tasks that depend on it become IMPOSSIBLE); a RUNNING separate-process task has its process killed and
    /// becomes CANCELLED while its worker goes on. Returns true when this call cancelled the task. Returns false, and
    /// writes nothing, when there was nothing to cancel: the task has finished (COMPLETE, ERROR, DIED, TIMEOUT,
    /// IMPOSSIBLE, or CANCELLED already, by an earlier call), was retried (MOVED: cancel its newest task instead), does
    /// not exist (MISSING), or is RUNNING with its kill asked for by another call; also when a RUNNING task finished
    /// before its worker could stop it. (rrq refuses these with "Task is not cancelable"; read
    /// <see cref="TaskStatus(string, bool?)"/> to know which.) A call that Redis applied but whose reply was lost is
    /// sent again as the same call, and answers as its first try did.
    /// </summary>
    /// <param name="taskId">The task.</param>
    /// <param name="wait">For a running task, wait until its worker has stopped it (default true). Without waiting, the
    /// call returns false for a running task: it is still RUNNING when the call returns.</param>
    /// <param name="timeout">How long to wait; default 10 seconds.</param>
    /// <exception cref="RrqException">The task runs inside its worker's own process (in-process tasks cannot be stopped
    /// safely: submit with <c>separateProcess: true</c> to be able to cancel); or it did not stop in time.</exception>
    public bool TaskCancel(string taskId, bool wait = true, TimeSpan? timeout = null) =>
        TaskCancelAsync(taskId, wait, timeout).GetAwaiter().GetResult();

    /// <inheritdoc cref="TaskCancel"/>
    public async Task<bool> TaskCancelAsync(string taskId, bool wait = true, TimeSpan? timeout = null,
        CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(taskId);
        CheckTimeout(timeout, nameof(timeout));
        var queue = (string?)await Queue.TaskFieldAsync(TaskField.Queue, taskId, cancellationToken).ConfigureAwait(false) ?? Rrq.Keys.RrqKeys.DefaultQueue;
        using var registration = wait ? await _waiter.RegisterAsync().ConfigureAwait(false) : null;
        registration?.Watch([taskId]);
        // One token per call: the retry layer sends the same script again after a lost reply, and the script tells that
        // repeat (which answers as the first try did) from a new call (which finds nothing to do).
        var r = await Queue.TaskCancelAsync(taskId, queue, NewTaskId(), cancellationToken).ConfigureAwait(false);
        switch (r.Outcome)
        {
            case CancelOutcome.Cancelled:
                await Queue.WalksDrainAsync(cancellationToken).ConfigureAwait(false);
                return true;
            case CancelOutcome.NothingToDo:
            case CancelOutcome.Missing:
                return false;
            case CancelOutcome.InProcess:
                throw new RrqException(
                    $"Cannot cancel task '{taskId}': it is RUNNING inside worker '{r.Detail}''s own process, which cannot " +
                    "be stopped safely. Nothing was changed. Submit tasks with separateProcess: true to be able to cancel them.");
        }
        var worker = r.Detail ?? "";
        await Redis.GetSubscriber().PublishAsync(Keys.WorkerChannel(worker), "cancel " + taskId).ConfigureAwait(false);
        if (!wait)
        {
            return false;
        }
        var limit = timeout ?? TimeSpan.FromSeconds(10);
        var deadline = Time.GetUtcNow() + limit;
        while (true)
        {
            var status = await TaskStatusAsync(taskId, follow: false, cancellationToken).ConfigureAwait(false);
            if (status != RrqTaskStatus.Running)
            {
                return status == RrqTaskStatus.Cancelled;
            }
            var left = deadline - Time.GetUtcNow();
            if (left <= TimeSpan.Zero)
            {
                throw new RrqException($"Task '{taskId}' did not stop within {limit.TotalSeconds:0.###} s of being cancelled " +
                    $"(is its worker '{worker}' alive?). It is still RUNNING; its worker will stop it when it next looks.");
            }
            // Woken by the task's notice, or at the deadline: look once more above.
            await registration!.WaitAsync(left, cancellationToken).ConfigureAwait(false);
            registration.Take();
            registration.Watch([taskId]);
        }
    }

    /// <summary>
    /// The output (standard output and error, interleaved) of a separate-process task's child process,
    /// as lines; empty before the task has started.
    /// </summary>
    /// <exception cref="RrqException">The task does not exist, or does not run in a separate process.</exception>
    public IReadOnlyList<string> TaskLog(string taskId) => TaskLogAsync(taskId).GetAwaiter().GetResult();

    /// <inheritdoc cref="TaskLog"/>
    public async Task<IReadOnlyList<string>> TaskLogAsync(string taskId, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        var root = await RootAsync(taskId).ConfigureAwait(false);
        var local = await Queue.TaskFieldAsync(TaskField.Local, root, cancellationToken).ConfigureAwait(false);
        if (local is null)
        {
            throw MissingTask(taskId);
        }
        if ((string?)local == "TRUE")
        {
            throw new RrqException($"Task '{taskId}' has no log: it runs inside its worker's process, whose output is the worker's " +
                "(see WorkerProcessLog). Submit with separateProcess: true to keep a log per task.");
        }
        return await Queue.TaskLogLinesAsync(taskId, cancellationToken).ConfigureAwait(false);
    }
}
