namespace Rrq;

/// <summary>
/// Where large values go instead of Redis: a directory (on a shared filesystem when workers run on
/// other machines) and the size above which a value is written there. Each value is stored once,
/// under its content hash, and is deleted with the last task that uses it.
/// </summary>
/// <param name="Path">The directory; created when missing. Every process of the queue that writes or
/// reads large values needs it (at the same or another mount point).</param>
/// <param name="ThresholdBytes">Values whose encoding is larger than this go to the directory (default 1 MiB).</param>
public sealed record RrqOffload(string Path, long ThresholdBytes = RrqOffload.DefaultThreshold)
{
    /// <summary>1 MiB.</summary>
    public const long DefaultThreshold = 1 << 20;

    /// <summary>From <c>RRQ_OFFLOAD</c> (the directory) and <c>RRQ_OFFLOAD_THRESHOLD</c> (bytes), or null when unset.</summary>
    public static RrqOffload? FromEnvironment()
    {
        var path = Environment.GetEnvironmentVariable("RRQ_OFFLOAD");
        if (string.IsNullOrWhiteSpace(path))
        {
            return null;
        }
        var threshold = Environment.GetEnvironmentVariable("RRQ_OFFLOAD_THRESHOLD");
        if (string.IsNullOrWhiteSpace(threshold))
        {
            return new RrqOffload(path);
        }
        return long.TryParse(threshold, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var bytes)
            ? new RrqOffload(path, bytes)
            : throw new ArgumentException($"RRQ_OFFLOAD_THRESHOLD is '{threshold}', which is not a whole number of bytes.");
    }
}
