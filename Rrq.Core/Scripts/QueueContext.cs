using Rrq.Connection;
using Rrq.Keys;
using StackExchange.Redis;

namespace Rrq.Scripts;

/// <summary>
/// What every Redis call of one queue needs, shared by its controller and its workers: the database,
/// the key schema, the value codec, and the retry layer every call goes through. Scripts are run with
/// <see cref="EvalAsync"/>, plain commands with <see cref="RunAsync{T}"/>; nothing else touches
/// <see cref="Db"/> directly, so a transient fault is retried in one place.
/// </summary>
internal sealed partial class QueueContext
{
    public QueueContext(IDatabase db, RrqKeys keys, Store.OffloadStore values, RedisRetry retry)
    {
        Db = db;
        Keys = keys;
        Values = values;
        Retry = retry;
    }

    public IDatabase Db { get; }

    public RrqKeys Keys { get; }

    public Store.OffloadStore Values { get; }

    public RedisRetry Retry { get; }

    /// <summary>Runs one Lua script by name (see <see cref="RrqScripts"/>), retried through transient faults.
    /// Only scripts that are safe to repeat after a lost reply may be run this way: each either checks the
    /// prior state (so a repeat changes nothing) or takes a token that makes a repeat return the first
    /// answer (claims).</summary>
    public Task<RedisResult> EvalAsync(string script, RedisKey[] keys, RedisValue[] args, CancellationToken cancellationToken = default)
    {
        var hash = RrqScripts.Hash(script, Keys.ShardedChannels);
        return Retry.ExecuteAsync(async _ =>
        {
            try
            {
                return await Db.ScriptEvaluateAsync(hash, keys, args).ConfigureAwait(false);
            }
            catch (RedisServerException e) when (e.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal))
            {
                // The server has not got it (its first use there, or it restarted): the text, which it keeps from now.
                return await Db.ScriptEvaluateAsync(RrqScripts.Text(script, Keys.ShardedChannels), keys, args).ConfigureAwait(false);
            }
        }, cancellationToken);
    }

    /// <summary>Runs plain commands (reads, or writes that are safe to repeat), retried through transient faults.
    /// A batch built inside <paramref name="call"/> is built again on a retry.</summary>
    public Task<T> RunAsync<T>(Func<IDatabase, Task<T>> call, CancellationToken cancellationToken = default) =>
        Retry.ExecuteAsync(_ => call(Db), cancellationToken);
}
