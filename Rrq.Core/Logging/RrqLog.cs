using Microsoft.Extensions.Logging;

namespace Rrq.Logging;

/// <summary>
/// Every event Rrq logs, source-generated (no boxing or formatting when the level is off), with its fields as
/// structured values: TaskId, WorkerId, QueueId, Status, ElapsedMs, ... Controller events are 1xx, worker events 2xx.
/// Worker events say which worker and queue through a logging scope (WorkerId, QueueId) while the worker runs.
/// </summary>
internal static partial class RrqLog
{
    // Controller
    [LoggerMessage(100, LogLevel.Information, "ℹ No Redis configured and none at {Tried}: started an embedded Garnet server at {Address}. " +
        "Its data lives only as long as this process; set RRQ_REDIS to use a Redis server.")]
    public static partial void EmbeddedStarted(ILogger logger, string tried, string address);

    [LoggerMessage(101, LogLevel.Warning, "Destroying queue {QueueId}: {Problem}")]
    public static partial void DestroyProblem(ILogger logger, string queueId, string problem);

    [LoggerMessage(102, LogLevel.Warning, "TaskWait on queue {QueueId} found {Count} finished tasks whose notification it had not seen")]
    public static partial void WaitMissedNotifications(ILogger logger, string queueId, int count);

    [LoggerMessage(103, LogLevel.Warning, "⚠ TaskWait: {Problem}")]
    public static partial void WaitNobodyListens(ILogger logger, string problem);

    [LoggerMessage(104, LogLevel.Warning, "Worker {WorkerId}: process {Pid} was gone (or is another process now); marked EXITED only")]
    public static partial void KilledProcessGone(ILogger logger, string workerId, int pid);

    [LoggerMessage(105, LogLevel.Warning, "{What} of queue {QueueId} left {Count} offloaded values that nothing uses; this controller has " +
        "no offload directory, so their files stay: {Hashes}")]
    public static partial void OffloadedValuesLeft(ILogger logger, string what, string queueId, int count, string hashes);

    [LoggerMessage(106, LogLevel.Error, "Worker {WorkerId} exited with code {Code}; not restarted: {Max} crashed workers were restarted " +
        "in the last minute already (see its log, {Log})")]
    public static partial void RestartGaveUp(ILogger logger, string workerId, int code, int max, string log);

    [LoggerMessage(107, LogLevel.Warning, "Worker {WorkerId} exited with code {Code}: started {NewId} in its place")]
    public static partial void Restarted(ILogger logger, string workerId, int code, string newId);

    [LoggerMessage(108, LogLevel.Error, "Could not start worker {WorkerId} again")]
    public static partial void RestartFailed(ILogger logger, Exception exception, string workerId);

    [LoggerMessage(110, LogLevel.Warning, "Redis at {Address} cannot serve Rrq ({Cause}): retrying until it can")]
    public static partial void RedisOutage(ILogger logger, string address, string cause);

    [LoggerMessage(111, LogLevel.Warning, "Redis at {Address} is back after {Seconds} s ({Cause})")]
    public static partial void RedisBack(ILogger logger, string address, string seconds, string? cause);

    [LoggerMessage(113, LogLevel.Warning, "Redis at {Server} says it is a master, but the Sentinels name {Master} as the master " +
        "of {Service} (an old master back, until the Sentinels make it a replica): Rrq sends the queue's calls to {Master}, " +
        "and any that reach {Server} meanwhile are refused there and sent again")]
    public static partial void SentinelRogueMaster(ILogger logger, string server, string service, string master);

    [LoggerMessage(114, LogLevel.Warning, "the Sentinels name {Master} as the master of {Service}, a server this process did not know " +
        "when it connected: connect again (restart the worker, or a new controller) to reach it")]
    public static partial void SentinelMasterUnknown(ILogger logger, string service, string master);

    [LoggerMessage(112, LogLevel.Warning, "{Line}")]
    public static partial void RedisOutageLine(ILogger logger, string line);

    // Worker
    [LoggerMessage(200, LogLevel.Information, "worker {WorkerId} on queue '{QueueId}' (queues {Queues})")]
    public static partial void WorkerStarted(ILogger logger, string workerId, string queueId, string queues);

    [LoggerMessage(201, LogLevel.Warning, "declared lost workers: {Found}")]
    public static partial void DeclaredLost(ILogger logger, string found);

    [LoggerMessage(202, LogLevel.Critical, "uncaught error in the worker (a bug in Rrq?): {Error}")]
    public static partial void Uncaught(ILogger logger, Exception exception, string error);

    [LoggerMessage(203, LogLevel.Warning, "rejoined the queue (it had been declared lost while out of touch with Redis, or the queue had lost its data and was made again)")]
    public static partial void Rejoined(ILogger logger);

    [LoggerMessage(204, LogLevel.Warning, "this worker is no longer registered in the queue (stopped, or the queue was destroyed): exiting")]
    public static partial void Unregistered(ILogger logger);

    [LoggerMessage(205, LogLevel.Warning, "could not prepare child processes for environment version {Version}: {Error}")]
    public static partial void ChildrenNotPrepared(ILogger logger, long version, string error);

    [LoggerMessage(206, LogLevel.Information, "environment version {Version} loaded ({Sources})")]
    public static partial void EnvirLoaded(ILogger logger, long version, string sources);

    [LoggerMessage(207, LogLevel.Error, "environment version {Version} failed to load; keeping version {Kept}: {Error}")]
    public static partial void EnvirFailed(ILogger logger, Exception exception, long version, long kept, string error);

    [LoggerMessage(208, LogLevel.Information, "task {TaskId} started")]
    public static partial void TaskStarted(ILogger logger, string taskId);

    [LoggerMessage(209, LogLevel.Information, "task {TaskId} started in a separate process")]
    public static partial void TaskStartedSeparate(ILogger logger, string taskId);

    [LoggerMessage(210, LogLevel.Information, "task {TaskId} {Status}: {Error}")]
    public static partial void TaskUnreadable(ILogger logger, string taskId, string status, string error);

    [LoggerMessage(211, LogLevel.Warning, "task {TaskId} finished ({Status}) but was no longer running here: result dropped")]
    public static partial void TaskDropped(ILogger logger, string taskId, string status);

    [LoggerMessage(227, LogLevel.Information, "task {TaskId} was handed to this worker, but was cancelled, deleted or taken by its own claim before it took it up: not run here")]
    public static partial void HandoffGone(ILogger logger, string taskId);

    [LoggerMessage(228, LogLevel.Warning, "{Why}: finishing the running task(s), recording them, then leaving the queue; {Again}")]
    public static partial void StopRequested(ILogger logger, string why, string again);

    [LoggerMessage(229, LogLevel.Warning, "{Why}: leaving now; a task still running is not waited for (it is recorded DIED, or retried by its policy)")]
    public static partial void StopNow(ILogger logger, string why);

    [LoggerMessage(230, LogLevel.Warning, "Redis at {Address} has not answered for {Seconds} s since this worker was told to stop: leaving now " +
        "without recording anything (nothing could be). When Redis is back, lost-worker detection marks this worker LOST and its task DIED")]
    public static partial void StopRedisGone(ILogger logger, string address, double seconds);

    [LoggerMessage(231, LogLevel.Warning, "queue {QueueId} has no data on Redis at {Address}, and was not destroyed (a server restarted " +
        "empty, or an old master back empty during a failover): this worker waits for it, looking each second")]
    public static partial void QueueDataMissing(ILogger logger, string queueId, string address);

    [LoggerMessage(232, LogLevel.Information, "queue {QueueId} is back: going on")]
    public static partial void QueueDataBack(ILogger logger, string queueId);

    [LoggerMessage(212, LogLevel.Information, "task {TaskId} {Status} in {ElapsedMs} ms")]
    public static partial void TaskFinished(ILogger logger, string taskId, string status, double elapsedMs);

    [LoggerMessage(213, LogLevel.Information, "task {TaskId} {Status} in {ElapsedMs} ms: {Detail}")]
    public static partial void TaskFinishedWith(ILogger logger, string taskId, string status, double elapsedMs, string detail);

    [LoggerMessage(214, LogLevel.Information, "PONG")]
    public static partial void Pong(ILogger logger);

    [LoggerMessage(215, LogLevel.Information, "{Text}")]
    public static partial void Echo(ILogger logger, string text);

    [LoggerMessage(216, LogLevel.Information, "EVAL {Expression} => {Result}")]
    public static partial void Eval(ILogger logger, string expression, string? result);

    [LoggerMessage(217, LogLevel.Information, "{Command}: {Outcome}")]
    public static partial void PauseResume(ILogger logger, string command, string outcome);

    [LoggerMessage(218, LogLevel.Warning, "unknown message: {Command}")]
    public static partial void UnknownMessage(ILogger logger, string command);

    [LoggerMessage(219, LogLevel.Warning, "could not start a child process ahead of its task: {Error}")]
    public static partial void ChildNotStarted(ILogger logger, string error);

    [LoggerMessage(220, LogLevel.Warning, "stop no longer waits for the running task: it will be recorded as DIED")]
    public static partial void StopNoLongerWaits(ILogger logger);

    [LoggerMessage(221, LogLevel.Warning, "could not record the exit, Redis did not answer for {Seconds} s ({Cause}): " +
        "the worker will be declared lost when its heartbeat expires")]
    public static partial void ExitNotRecorded(ILogger logger, double seconds, string cause);

    [LoggerMessage(222, LogLevel.Information, "stopped: {Reason}")]
    public static partial void Stopped(ILogger logger, string reason);

    [LoggerMessage(223, LogLevel.Information, "heartbeat refreshed again")]
    private static partial void HeartbeatBack(ILogger logger);

    [LoggerMessage(224, LogLevel.Warning, "heartbeat could not be refreshed (retrying every period): {Cause}")]
    private static partial void HeartbeatFailing(ILogger logger, string? cause);

    [LoggerMessage(225, LogLevel.Warning, "lost-worker sweep failed: {Cause}")]
    private static partial void SweepFailed(ILogger logger, string? cause);

    [LoggerMessage(226, LogLevel.Information, "retention expired {Count} finished tasks of queue {QueueId}")]
    public static partial void RetentionExpired(ILogger logger, long count, string queueId);

    public static void Heartbeat(ILogger logger, Workers.HeartbeatNote note)
    {
        switch (note.Event)
        {
            case Workers.HeartbeatEvent.Refreshed: HeartbeatBack(logger); break;
            case Workers.HeartbeatEvent.NotRefreshed: HeartbeatFailing(logger, note.Cause); break;
            default: SweepFailed(logger, note.Cause); break;
        }
    }
}
