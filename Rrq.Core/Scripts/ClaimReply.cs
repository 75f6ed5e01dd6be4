using System.Globalization;
using StackExchange.Redis;

namespace Rrq.Scripts;

/// <summary>What a claim gives a worker slot to do (include/claim.lua's <c>claim()</c>).</summary>
internal enum ClaimKind
{
    /// <summary>The worker is not registered (stopped, declared lost, or the queue's data is not on that server).</summary>
    NotRegistered = -1,

    /// <summary>Nothing to do.</summary>
    Idle = 0,

    /// <summary>A message for the worker.</summary>
    Message = 1,

    /// <summary>A task, RUNNING on the worker under the claim's token.</summary>
    Task = 2,
}

/// <summary>A task a claim took: what the worker needs to run it.</summary>
/// <param name="Id">The task's id.</param>
/// <param name="Payload">Its encoded expression and locals.</param>
/// <param name="SeparateProcess">Whether it runs in a child process.</param>
/// <param name="Timeout">A separate-process task's time limit.</param>
/// <param name="SeparateNext">For a separate-process task, how many of the next tasks of the worker's queues are
/// separate-process too (the worker starts their children ahead); else 0.</param>
internal sealed record ClaimedTask(string Id, byte[]? Payload, bool SeparateProcess, TimeSpan? Timeout, int SeparateNext);

/// <summary>
/// A claim's reply, read in one place: <c>{kind, envir version, ...}</c> as include/claim.lua documents it, from
/// worker_claim.lua, from the claim task_finish.lua makes with an outcome, or built for a task handed over at
/// submission (<see cref="Rrq.Workers.Handoff"/>).
/// </summary>
internal sealed record ClaimReply(ClaimKind Kind, long EnvirVersion)
{
    /// <summary>The message (<see cref="ClaimKind.Message"/>).</summary>
    public string? Message { get; init; }

    /// <summary>The task for the claiming slot (<see cref="ClaimKind.Task"/>).</summary>
    public ClaimedTask? Task { get; init; }

    /// <summary>Tasks the claim took for the worker's other free slots (a worker of several slots).</summary>
    public IReadOnlyList<ClaimedTask> More { get; init; } = [];

    /// <summary>When the next delayed task of its queues comes due (<see cref="ClaimKind.Idle"/>), if any.</summary>
    public DateTimeOffset? NextDue { get; init; }

    /// <summary>A reply for one task (a hand-off, or one of <see cref="More"/> given to another slot).</summary>
    public static ClaimReply ForTask(long envirVersion, ClaimedTask task) => new(ClaimKind.Task, envirVersion) { Task = task };

    /// <summary>Reads the reply that starts at <paramref name="at"/> of <paramref name="r"/>.</summary>
    public static ClaimReply Parse(RedisResult[] r, int at = 0)
    {
        var kind = (ClaimKind)(long)r[at];
        var version = (long)r[at + 1];
        return kind switch
        {
            ClaimKind.Message => new ClaimReply(kind, version) { Message = (string?)r[at + 2] },
            ClaimKind.Task => new ClaimReply(kind, version)
            {
                Task = ReadTask(r, at + 2, (int)r[at + 6]),
                More = [.. Enumerable.Range(0, (r.Length - at - 7) / 5).Select(i => ReadTask(r, at + 7 + 5 * i, 0))],
            },
            ClaimKind.Idle => new ClaimReply(kind, version) { NextDue = Due((string?)r[at + 2]) },
            _ => new ClaimReply(kind, version),
        };
    }

    /// <summary>Task id, payload, local flag, timeout in seconds ("" for none).</summary>
    private static ClaimedTask ReadTask(RedisResult[] r, int at, int separateNext)
    {
        TimeSpan? timeout = (string?)r[at + 3] is { Length: > 0 } secs
            ? TimeSpan.FromSeconds(double.Parse(secs, CultureInfo.InvariantCulture)) : null;
        return new ClaimedTask((string)r[at]!, (byte[]?)r[at + 1], (string?)r[at + 2] == "FALSE", timeout, separateNext);
    }

    private static DateTimeOffset? Due(string? ms) => ms is { Length: > 0 }
        ? DateTimeOffset.FromUnixTimeMilliseconds((long)double.Parse(ms, CultureInfo.InvariantCulture))
        : null;
}

/// <summary>task_finish.lua's reply.</summary>
/// <param name="Written">1 written; 2 written already (a repeat after a lost reply); 3 written, with a walk over
/// dependents left for the worker to carry on; -1 the task is no longer this worker's under that claim (dropped).</param>
/// <param name="Next">The claim made with the outcome (null when none was asked for).</param>
internal sealed record FinishReply(long Written, ClaimReply? Next)
{
    public static FinishReply Parse(RedisResult[] r) => new((long)r[0], r.Length > 2 ? ClaimReply.Parse(r, 1) : null);
}
