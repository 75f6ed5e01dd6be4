using Rrq.Connection;
using Rrq.Scripts;
using StackExchange.Redis;

namespace Rrq.Workers;

/// <summary>
/// What a worker writes about its own work besides tasks' outcomes: lines of its log (<c>worker:&lt;id&gt;:log</c>), and
/// small notes (a task's pid, progress, output lines). Each is written only while the queue has a record of the worker
/// (worker_log.lua, worker_note.lua), so a worker declared lost, or whose queue was destroyed, brings nothing back.
/// </summary>
/// <remarks>Called from the worker's flow and from a child's output thread alike: each call retries through outages for
/// as long as they last, as everything a worker does.</remarks>
internal sealed class WorkerRecord(QueueContext queue, string workerId)
{
    /// <summary>Sets a field about this worker's work (HSET), or appends a line (RPUSH).</summary>
    public async Task NoteAsync(RedisKey key, string command, RedisValue field, RedisValue value = default)
    {
        RedisRetry.ForeverScope();
        await queue.WorkerNoteAsync(workerId, key, command, field, value).ConfigureAwait(false);
    }

    /// <summary>Sets one field of a hash about this worker's work.</summary>
    public Task NoteFieldAsync(RedisKey hash, string field, RedisValue value) => NoteAsync(hash, "hset", field, value);

    /// <summary>Appends "&lt;server time&gt; LABEL value" to the worker's log.</summary>
    public async Task LogAsync(string label, string value)
    {
        RedisRetry.ForeverScope();
        await queue.WorkerLogAsync(workerId, label, value).ConfigureAwait(false);
    }
}
