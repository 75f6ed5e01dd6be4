namespace Rrq;

/// <summary>What is known about one task (rrq's <c>rrq_task_info</c>).</summary>
/// <param name="Id">The task id.</param>
/// <param name="Status">Its own status (a retried task reads MOVED here).</param>
/// <param name="Queue">The queue it was submitted to.</param>
/// <param name="SeparateProcess">True when it runs in a child process of the worker.</param>
/// <param name="Timeout">Its run-time limit, when it has one.</param>
/// <param name="Worker">The worker that ran or runs it, once claimed.</param>
/// <param name="Pid">The process id of its child process (separate-process tasks).</param>
/// <param name="Depends">The tasks it depends on (Up) and the tasks that depend on it (Down),
/// transitively, nearest first.</param>
/// <param name="Moved">Older (Up) and newer (Down) members of its retry chain.</param>
[Display.TypeFormatterSource(typeof(Display.RrqFormatterSource))]
public sealed record RrqTaskInfo(string Id, RrqTaskStatus Status, string Queue,
    bool SeparateProcess, TimeSpan? Timeout, string? Worker, int? Pid,
    RrqChain Depends, RrqChain Moved);
