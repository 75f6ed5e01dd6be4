using System.Security.Cryptography;
using System.Text;
using Rrq.Keys;

namespace Rrq;

/// <summary>
/// The Redis ACL user a queue needs: its keys (<c>~{queue}:*</c>) and channels (<c>&amp;{queue}:*</c>) only, and exactly
/// the commands Rrq sends, from its controllers and workers and from inside its Lua scripts. A controller or worker
/// connected as that user cannot read or change another queue: Redis answers NOPERM. <c>rrq-worker acl QUEUE</c> prints
/// the line, or applies it. See docs/security.md.
/// </summary>
public static class RrqAcl
{
    /// <summary>The commands Rrq runs, besides the connection ones (<c>+@connection</c>: AUTH, HELLO, PING, CLIENT ...).
    /// Inside scripts: what the Lua files under Scripts/ call. Outside: reads of hashes, sets, lists and sorted sets, the
    /// server's clock, SCAN (destroying a queue), pub/sub, COMMAND INFO (whether SPUBLISH exists), ROLE (whether a
    /// server that refuses writes is a replica for good) and WAIT (durable submissions).</summary>
    public static IReadOnlyList<string> Commands { get; } =
    [
        // Scripts, and what they call.
        "eval", "evalsha", "script|load", "script|exists",
        "del", "exists", "get", "set", "incrby", "time",
        "hdel", "hexists", "hget", "hgetall", "hincrby", "hkeys", "hlen", "hmget", "hset", "hsetnx", "hvals",
        "lindex", "llen", "lpop", "lpush", "lrange", "ltrim", "rpush",
        "sadd", "scard", "sismember", "smembers", "spop", "srem",
        "zadd", "zcard", "zrange", "zrangebylex", "zrangebyscore", "zrem", "zremrangebylex", "zrevrangebylex", "zscore",
        // Outside scripts.
        "scan", "publish", "subscribe", "unsubscribe", "ssubscribe", "sunsubscribe", "spublish", "command|info", "info", "role", "wait",
    ];

    /// <summary>The ACL SETUSER arguments for <paramref name="queueId"/>'s user. With <paramref name="password"/>, the
    /// user gets it (as its SHA-256, so the line can be shown without showing the password); without, the line has a
    /// <c>&gt;CHANGE-ME</c> placeholder.</summary>
    /// <exception cref="ArgumentException">The queue id or user name is not valid.</exception>
    public static IReadOnlyList<string> SetUserArguments(string queueId, string? user = null, string? password = null)
    {
        QueueIdValidation.Check(queueId);
        user ??= DefaultUser(queueId);
        if (user.Length == 0 || user.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            throw new ArgumentException($"'{user}' is not a usable Redis user name: it must be non-empty, without spaces.", nameof(user));
        }
        var secret = password is null ? ">CHANGE-ME" : "#" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(password)));
        return ["ACL", "SETUSER", user, "reset", "on", secret, $"~{{{queueId}}}:*", $"&{{{queueId}}}:*", "-@all", "+@connection",
            .. Commands.Select(c => "+" + c)];
    }

    /// <summary>The line to paste into <c>redis-cli</c> (arguments with braces or other special characters quoted).</summary>
    public static string SetUserLine(string queueId, string? user = null, string? password = null) =>
        string.Join(' ', SetUserArguments(queueId, user, password).Select(a => a.Any(c => c is '{' or '}' or '"' or '\'' or '&' or '#' or '>' or '~' or '|')
            ? "\"" + a.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"" : a));

    /// <summary>The user name a queue's user gets unless told otherwise: <c>rrq-</c> and the queue id with anything but
    /// letters, digits, '-' and '_' made '_'.</summary>
    public static string DefaultUser(string queueId) =>
        "rrq-" + string.Concat(queueId.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '_'));
}
