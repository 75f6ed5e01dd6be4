using StackExchange.Redis;

namespace Rrq.Connection;

/// <summary>
/// Tells a read-only replica that will stay one from a server that may soon take writes. Rrq writes on every call, so a
/// connection whose only servers are replicas cannot work; but a replica whose master is down may be promoted by a
/// failover in a moment, and is worth waiting for. One whose link to its master is up will not be (its master is
/// there): that is said at once, naming both, instead of being retried for ever.
/// </summary>
internal sealed class ReplicaCheck(IConnectionMultiplexer redis)
{
    private static readonly TimeSpan AskEvery = TimeSpan.FromSeconds(1);
    private readonly Lock _lock = new();
    private long _askedAt;
    private string? _last;

    /// <summary>The problem when every server this connection reaches is a replica whose master is up; null when a
    /// master is reachable, nothing is (an outage), or a replica's master is down (a failover may promote it). Asks the
    /// servers (ROLE) at most once a second; in between the last answer stands.</summary>
    public async Task<string?> PermanentProblemAsync()
    {
        var connected = redis.GetServers().Where(s => s.IsConnected).ToArray();
        if (connected.Length == 0 || connected.Any(s => !s.IsReplica))
        {
            return null;   // an outage, or the client has a master to send to
        }
        lock (_lock)
        {
            if (_askedAt != 0 && System.Diagnostics.Stopwatch.GetElapsedTime(_askedAt) < AskEvery)
            {
                return _last;
            }
            _askedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        }
        string? problem = null;
        foreach (var server in connected)
        {
            Role role;
            try
            {
                role = await server.RoleAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                problem = null;   // cannot tell: keep trying as for any outage
                break;
            }
            if (role is Role.Master)
            {
                problem = null;   // promoted since the client last looked: it will see so on its next reconfigure
                break;
            }
            if (role is Role.Replica replica && string.Equals(replica.State, "connected", StringComparison.Ordinal))
            {
                var master = $"{replica.MasterIp}:{replica.MasterPort}";
                problem ??= $"Redis at {Describe(server.EndPoint)} is a read-only replica of {master}, and its master is up, so no " +
                    $"failover is coming to make it writable: Rrq writes on every call and needs the master. Connect to {master}, " +
                    "or through the Sentinels (\"sentinel1:26379,sentinel2:26379,serviceName=<name>\") so that Rrq follows " +
                    "failovers. Nothing was written.";
            }
            else
            {
                problem = null;   // a replica cut off from its master: a failover may promote it, so wait as for an outage
                break;
            }
        }
        lock (_lock)
        {
            _last = problem;
        }
        return problem;
    }

    private static string Describe(System.Net.EndPoint? e) => e is null ? "?" : SentinelGuard.Describe(e);
}
