using StackExchange.Redis;

namespace Rrq.Connection;

/// <summary>
/// Which Redis failures are weather (Redis restarting, stalled, failing over, a dropped connection, a
/// slot moving) and so worth trying again, and which are answers. Decided in this one place.
/// </summary>
internal static class RedisFaults
{
    /// <summary>Error prefixes of replies that say "not now" rather than "no": the same call succeeds once
    /// the server has finished loading, failing over, migrating a slot or running a long script.</summary>
    private static readonly string[] TransientPrefixes =
        ["TRYAGAIN", "CLUSTERDOWN", "LOADING", "MASTERDOWN", "READONLY", "BUSY ", "NOREPLICAS", "UNBLOCKED"];

    /// <summary>True when <paramref name="e"/> is a fault that goes away by itself: connection lost or
    /// not yet re-established, a timeout, or one of the transient server errors above (Garnet puts
    /// <c>ERR</c> in front of them).</summary>
    public static bool IsTransient(Exception? e) => e switch
    {
        null => false,
        RedisConnectionException => true,
        QueueNotHereException => true,
        RedisTimeoutException => true,
        TimeoutException => true,
        RedisServerException s => HasTransientPrefix(s.Message),
        // A reply cut short by a dropped socket can surface as an I/O error inside the client.
        IOException => true,
        System.Net.Sockets.SocketException => true,
        AggregateException a => a.InnerExceptions.Count > 0 && a.InnerExceptions.All(IsTransient),
        _ => false,
    };

    private static bool HasTransientPrefix(string message)
    {
        var m = message.AsSpan().TrimStart();
        if (m.StartsWith("ERR ", StringComparison.Ordinal))
        {
            m = m[4..].TrimStart();
        }
        foreach (var p in TransientPrefixes)
        {
            if (m.StartsWith(p, StringComparison.Ordinal))
            {
                return true;
            }
        }
        // While a slot moves, StackExchange.Redis can hand back a MOVED it did not follow ("Key has MOVED to
        // Endpoint ... but CommandFlags.NoRedirect was specified") until it has learnt the new layout: asked
        // again a moment later, it goes to the new owner.
        if (m.StartsWith("Key has MOVED", StringComparison.Ordinal) || m.StartsWith("MOVED ", StringComparison.Ordinal)
            || m.StartsWith("ASK ", StringComparison.Ordinal))
        {
            return true;
        }
        // A script's own error wraps the server's ("ERR Error running script ... TRYAGAIN ...").
        return message.Contains("TRYAGAIN", StringComparison.Ordinal) || message.Contains("CLUSTERDOWN", StringComparison.Ordinal);
    }

    /// <summary>The first line of a fault, for logs and messages.</summary>
    public static string Describe(Exception e)
    {
        var text = $"{e.GetType().Name}: {e.Message}";
        var i = text.IndexOf('\n', StringComparison.Ordinal);
        text = (i < 0 ? text : text[..i]).Trim();
        return text.Length <= 300 ? text : text[..300] + "…";
    }
}
