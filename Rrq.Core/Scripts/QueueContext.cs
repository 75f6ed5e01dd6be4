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

    /// <summary>Shown every script call before it is sent (the tests check each call's KEYS and ARGV against the script's
    /// header); null in use.</summary>
    internal static Action<string, RedisKey[], RedisValue[]>? ScriptCalling { get; set; }

    /// <summary>Runs one Lua script by name (see <see cref="RrqScripts"/>), retried through transient faults.
    /// Only scripts that are safe to repeat after a lost reply may be run this way: each either checks the
    /// prior state (so a repeat changes nothing) or takes a token that makes a repeat return the first
    /// answer (claims).</summary>
    public Task<RedisResult> EvalAsync(string script, RedisKey[] keys, RedisValue[] args, CancellationToken cancellationToken = default)
    {
        ScriptCalling?.Invoke(script, keys, args);
        var hash = RrqScripts.Hash(script, Keys.ShardedChannels);
        return Retry.ExecuteAsync(async _ =>
        {
            try
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
            }
            catch (RedisServerException e) when (IsPermission(e))
            {
                throw Refused(e, $"Rrq's {script} script (EVALSHA, or EVAL) on {Described(keys)}");
            }
        }, cancellationToken);
    }

    /// <summary>A refusal by the server's ACL: NOPERM, or a script's command refused (which Redis reports as ERR).</summary>
    internal static bool IsPermission(RedisServerException e) =>
        e.Message.StartsWith("NOPERM", StringComparison.Ordinal) || e.Message.Contains("The user executing the script can't", StringComparison.Ordinal);

    /// <summary>The error for a refusal: what was refused (Redis does not name the key), as whom, and what to do.</summary>
    internal RrqPermissionException Refused(RedisServerException e, string what)
    {
        var user = ConfigurationOptions.Parse(Db.Multiplexer.Configuration, ignoreUnknown: true).User ?? "default";
        return new RrqPermissionException($"Redis refused {what} for the user Rrq connects as ('{user}'): {e.Message}. " +
            $"A user of queue '{Keys.QueueId}' needs its keys ({{{Keys.QueueId}}}:*), its channels and the commands Rrq runs: " +
            $"`rrq-worker acl {Keys.QueueId}` prints the ACL SETUSER line for one. Connect as such a user, or grant these to '{user}'.", e);
    }

    private static string Described(RedisKey[] keys) => keys.Length switch
    {
        0 => "no keys",
        <= 3 => "keys " + string.Join(", ", keys.Select(k => (string?)k)),
        _ => $"keys {string.Join(", ", keys.Take(3).Select(k => (string?)k))} and {keys.Length - 3} more",
    };

    /// <summary>Runs plain commands (reads, or writes that are safe to repeat), retried through transient faults.
    /// A batch built inside <paramref name="call"/> is built again on a retry.</summary>
    public Task<T> RunAsync<T>(Func<IDatabase, Task<T>> call, CancellationToken cancellationToken = default) =>
        Retry.ExecuteAsync(async _ =>
        {
            try
            {
                return await call(Db).ConfigureAwait(false);
            }
            catch (RedisServerException e) when (IsPermission(e))
            {
                throw Refused(e, $"a command on queue '{Keys.QueueId}''s keys");
            }
        }, cancellationToken);

    /// <summary>The server's clock (TIME): seconds and microseconds since the epoch.</summary>
    public async Task<(long Seconds, long Micros)> ServerClockAsync(CancellationToken cancellationToken = default) =>
        Controller.RedisTime.OfTimeReply(await RunAsync(db => db.ExecuteAsync("TIME"), cancellationToken).ConfigureAwait(false));

    /// <summary>The server's clock, to the millisecond.</summary>
    public async Task<DateTimeOffset> ServerTimeAsync(CancellationToken cancellationToken = default)
    {
        var (seconds, micros) = await ServerClockAsync(cancellationToken).ConfigureAwait(false);
        return DateTimeOffset.FromUnixTimeMilliseconds(seconds * 1000 + micros / 1000);
    }

    /// <summary>WAIT: how many replicas hold this connection's writes, waiting up to <paramref name="timeout"/> for
    /// <paramref name="replicas"/> of them. Sent once, not retried (a fault is the caller's to report): on the connection
    /// the writes went on, the one to the server that holds the queue's keys.</summary>
    public async Task<long> ReplicasHoldingAsync(int replicas, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var endpoint = await Db.IdentifyEndpointAsync(Keys.TaskStatus).ConfigureAwait(false);
        var reply = endpoint is null
            ? await Db.ExecuteAsync("WAIT", replicas, (long)timeout.TotalMilliseconds).WaitAsync(cancellationToken).ConfigureAwait(false)
            : await Db.Multiplexer.GetServer(endpoint).ExecuteAsync("WAIT", replicas, (long)timeout.TotalMilliseconds)
                .WaitAsync(cancellationToken).ConfigureAwait(false);
        return (long)reply;
    }
}
