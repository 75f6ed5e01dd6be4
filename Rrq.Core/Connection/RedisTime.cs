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
}
