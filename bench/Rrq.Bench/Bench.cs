namespace Rrq.Bench;

/// <summary>One run of the benchmark: its size, the Redis it measures against, the baseline measured there, the queue
/// and controller the sections share, and the peer.</summary>
internal sealed class Bench
{
    /// <summary>Smaller counts (<c>--quick</c>).</summary>
    public required bool Quick { get; init; }

    /// <summary>The benchmark's own redis-server; null when RRQ_REDIS names the server.</summary>
    public required RedisProcess? Server { get; init; }

    public required string Address { get; init; }

    /// <summary>A connection of the benchmark's own, for the baseline and for Redis's own figures (INFO).</summary>
    public required ConnectionMultiplexer Mux { get; init; }

    public IDatabase Db => Mux.GetDatabase();

    /// <summary>The baseline: the median round trip of a Redis PING from this process, in ms.</summary>
    public required double Ping { get; init; }

    public required string Queue { get; init; }

    public required RrqController Obj { get; init; }

    public required BullMqPeer Peer { get; init; }

    public int RoundTrips => Quick ? 200 : 2000;

    public TimeSpan WarmUp => TimeSpan.FromSeconds(Quick ? 2 : 10);

    /// <summary>How many tasks the many and bulk sections run.</summary>
    public int BulkSize => Quick ? 256 : 2048;

    /// <summary>The median in-process round trip (ms) once measured, for the separate-process figures to be read against;
    /// NaN before.</summary>
    public double RoundTrip { get; set; } = double.NaN;
}
