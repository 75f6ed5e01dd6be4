using System.Globalization;
using StackExchange.Redis;

namespace Rrq.Controller;

/// <summary>Times are stored as the Redis server's clock, "seconds.microseconds" since the epoch.</summary>
internal static class RedisTime
{
    public static DateTimeOffset? Parse(RedisValue value)
    {
        if (value.IsNullOrEmpty)
        {
            return null;
        }
        var s = (string)value!;
        var dot = s.IndexOf('.', StringComparison.Ordinal);
        var seconds = long.Parse(dot < 0 ? s : s[..dot], CultureInfo.InvariantCulture);
        var micros = dot < 0 ? 0 : long.Parse(s[(dot + 1)..].PadRight(6, '0')[..6], CultureInfo.InvariantCulture);
        return DateTimeOffset.FromUnixTimeSeconds(seconds).AddTicks(micros * 10);
    }

    /// <summary>The server's clock from its TIME reply: seconds and microseconds since the epoch.</summary>
    public static (long Seconds, long Micros) OfTimeReply(RedisResult time)
    {
        var parts = (RedisResult[])time!;
        return (long.Parse((string)parts[0]!, CultureInfo.InvariantCulture), long.Parse((string)parts[1]!, CultureInfo.InvariantCulture));
    }

    /// <summary>The server's clock from its TIME reply, to the millisecond.</summary>
    public static DateTimeOffset FromTimeReply(RedisResult time)
    {
        var (seconds, micros) = OfTimeReply(time);
        return DateTimeOffset.FromUnixTimeMilliseconds(seconds * 1000 + micros / 1000);
    }
}
