namespace Rrq;

/// <summary>One line of a worker's log, e.g. <c>TASK_START 3f9a...</c>.</summary>
/// <param name="WorkerId">The worker that wrote it.</param>
/// <param name="Time">When (the Redis server's clock).</param>
/// <param name="Command">What happened: ALIVE, ENVIR, QUEUE, TASK_START, TASK_COMPLETE, MESSAGE, STOP, ...</param>
/// <param name="Message">The details, e.g. a task id; empty when there are none.</param>
public sealed record RrqWorkerLogEntry(string WorkerId, DateTimeOffset Time, string Command, string Message);
