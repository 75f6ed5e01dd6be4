using System.Net;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Rrq.Connection;

/// <summary>
/// Rrq's connection through Sentinel (<c>serviceName=</c>): to the servers the Sentinels know, writing only to the one
/// they name master, following their failovers.
/// </summary>
/// <remarks>
/// <para>StackExchange.Redis's own Sentinel mode switches to a promoted replica but keeps the old master among its
/// servers. When that server came back empty (no persistence) it was a master until the Sentinels made it a replica
/// (10 to 20 s here), and the client, seeing two masters, chose the first it knew: the empty one. Workers' heartbeats
/// and claims went there, and a worker was declared lost on the real master. That mode also turns off the client's one
/// rule for choosing between two masters, its tie-breaker key.</para>
/// <para>So Rrq asks the Sentinels for the master and its replicas, and connects to those servers plainly, with the
/// tie-breaker set to a key of the queue (<c>{Q}:primary</c>). This guard writes into that key, on the master the
/// Sentinels name, the master's own address: every server that holds the queue votes for it. It writes when the process
/// connects, when the Sentinels announce a new master (<c>+switch-master</c>, or a check every couple of seconds finds
/// one), and when any server's connection comes back. A server that says it is a master although the Sentinels name
/// another (an old master back empty) is given the same key, so that it votes against itself, and the client is made
/// to choose again (<see cref="IConnectionMultiplexer.ConfigureAsync"/>), as it is whenever it would send the queue's
/// calls elsewhere than to the named master.</para>
/// <para>A command that reaches the empty server in the moment before that is harmless: Rrq's scripts judge nothing on
/// a server that has none of the queue (they answer TRYAGAIN and write nothing), and the retry layer sends it again.</para>
/// <para>The servers are those the Sentinels knew when the process connected: a master promoted from a server added
/// later is reported (<see cref="Logging.RrqLog.SentinelMasterUnknown"/>) and reached by connecting again.</para>
/// </remarks>
internal sealed class SentinelGuard : IAsyncDisposable
{
    /// <summary>How often the Sentinels are asked, beside their announcements (which a dropped subscription can miss).</summary>
    internal static readonly TimeSpan CheckEvery = TimeSpan.FromSeconds(2);

    private readonly ConnectionMultiplexer _data;
    private readonly ConnectionMultiplexer _sentinels;
    private readonly string _service;
    private readonly RedisKey _tieBreaker;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _checking = new(1, 1);
    private readonly Task _loop;
    private string? _written;          // the master named in the tie-breaker key by this process, last time
    private string? _reportedRogue;    // the last server reported as a master the Sentinels do not name
    private string? _reportedUnknown;  // the last named master reported as not among this connection's servers
    private int _again;                // set when a check is asked for while one runs

    private SentinelGuard(ConnectionMultiplexer data, ConnectionMultiplexer sentinels, string service, RedisKey tieBreaker,
        ILogger logger, TimeProvider time)
    {
        _data = data;
        _sentinels = sentinels;
        _service = service;
        _tieBreaker = tieBreaker;
        _logger = logger;
        _data.ConnectionRestored += OnRestored;
        _sentinels.GetSubscriber().Subscribe(RedisChannel.Literal("+switch-master"), (_, _) => Poke());
        _loop = Task.Run(() => LoopAsync(time));
    }

    /// <summary>The master the Sentinels named at the last check (null before the first answer).</summary>
    public EndPoint? Master { get; private set; }

    /// <summary>The tie-breaker key of a queue: set as <see cref="ConfigurationOptions.TieBreaker"/> before connecting.</summary>
    public static string TieBreakerKey(string queueId) => "{" + queueId + "}:primary";

    /// <summary>Connects through the Sentinels <paramref name="options"/> names (its <c>serviceName</c>): asks them for
    /// the master and replicas, connects to those, and guards the connection. The Sentinels are asked with the same
    /// credentials, as StackExchange.Redis does.</summary>
    /// <exception cref="RedisConnectionException">No Sentinel answered.</exception>
    /// <exception cref="RrqConnectionException">No Sentinel knows the service.</exception>
    public static async Task<(ConnectionMultiplexer Data, SentinelGuard Guard)> ConnectAsync(ConfigurationOptions options, string queueId,
        ILogger logger, TimeProvider time, CancellationToken cancellationToken)
    {
        var service = options.ServiceName ?? throw new ArgumentException("not a Sentinel connection", nameof(options));
        var asSentinel = options.Clone();
        asSentinel.ServiceName = null;
        asSentinel.ClientName = "rrq-sentinel";
        var sentinels = await ConnectionMultiplexer.SentinelConnectAsync(asSentinel).WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var asked = string.Join(", ", sentinels.GetEndPoints().Select(Describe));
            var master = await NamedMasterAsync(sentinels, service).ConfigureAwait(false) ?? throw new RrqConnectionException(asked,
                $"No Sentinel at {asked} names a master for service '{service}': check that serviceName= in the connection string " +
                "is the name in their `sentinel monitor` line, and that the Sentinels are running.");
            var data = options.Clone();
            data.ServiceName = null;
            data.EndPoints.Clear();
            data.EndPoints.Add(master);
            foreach (var replica in await ReplicasAsync(sentinels, service).ConfigureAwait(false))
            {
                data.EndPoints.TryAdd(replica);
            }
            data.TieBreaker = TieBreakerKey(queueId);
            var mux = await ConnectionMultiplexer.ConnectAsync(data).WaitAsync(cancellationToken).ConfigureAwait(false);
            var guard = new SentinelGuard(mux, sentinels, service, data.TieBreaker, logger, time);
            await guard.CheckAsync().ConfigureAwait(false);
            return (mux, guard);
        }
        catch
        {
            await sentinels.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private void OnRestored(object? sender, EventArgs e)
    {
        Volatile.Write(ref _written, null);
        Poke();
    }

    /// <summary>Asks for a check soon, off the caller's thread (the client's events must not wait on Redis).</summary>
    private void Poke()
    {
        if (!_stop.IsCancellationRequested)
        {
            _ = Task.Run(CheckAsync);
        }
    }

    private async Task LoopAsync(TimeProvider time)
    {
        using var timer = new PeriodicTimer(CheckEvery, time);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                await CheckAsync().ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>One check: who the master is, the tie-breaker written there, and a new choice by the client when another
    /// server says it is a master. Never throws (Redis and the Sentinels may be away: the next check tries again).</summary>
    internal async Task CheckAsync()
    {
        if (!await _checking.WaitAsync(0).ConfigureAwait(false))
        {
            Volatile.Write(ref _again, 1);   // the running check goes round once more
            return;
        }
        try
        {
            do
            {
                Volatile.Write(ref _again, 0);
                await CheckOnceAsync().ConfigureAwait(false);
            }
            while (Volatile.Read(ref _again) == 1 && !_stop.IsCancellationRequested);
        }
        catch (Exception e) when (e is RedisException or TimeoutException or ObjectDisposedException or InvalidOperationException)
        {
            // The next check tries again.
        }
        finally
        {
            _checking.Release();
        }
    }

    private async Task CheckOnceAsync()
    {
        var master = await NamedMasterAsync(_sentinels, _service).ConfigureAwait(false);
        if (master is null || _stop.IsCancellationRequested)
        {
            return;
        }
        Master = master;
        var name = Describe(master);
        var server = _data.GetServers().FirstOrDefault(s => s.EndPoint is { } e && Same(e, master));
        if (server is null)
        {
            if (_reportedUnknown != name)
            {
                _reportedUnknown = name;
                Logging.RrqLog.SentinelMasterUnknown(_logger, _service, name);
            }
            return;
        }
        if (!server.IsConnected)
        {
            return;   // the client is connecting to it again; the next check (or its coming back) goes on
        }
        // Written when the master changes, and again after any connection comes back (a server may have restarted
        // without the key); trusted in between.
        var changed = Volatile.Read(ref _written) != name;
        if (changed)
        {
            await server.ExecuteAsync("SET", _tieBreaker, name).ConfigureAwait(false);
            Volatile.Write(ref _written, name);
        }
        var rogue = _data.GetServers().FirstOrDefault(s => s.IsConnected && !s.IsReplica && s.EndPoint is { } e && !Same(e, master));
        if (rogue is not null)
        {
            if (_reportedRogue != Describe(rogue.EndPoint!))
            {
                _reportedRogue = Describe(rogue.EndPoint!);
                Logging.RrqLog.SentinelRogueMaster(_logger, _reportedRogue, _service, name);
            }
            // The other master votes for the named one too. The client counts the votes it last read from each server:
            // one read when the named master was still a replica names the old master (the key replicated from it), and a
            // vote missing from the named master (a read not yet answered) left the old, empty one chosen by default, the
            // first server the client knew. With the old master's own vote for the named master, it cannot win. Writing
            // there is harmless: the key is not the queue's (scripts still find none of the queue there), and the server
            // drops it when the Sentinels make it a replica.
            if (!string.Equals((string?)await rogue.ExecuteAsync("GET", _tieBreaker).ConfigureAwait(false), name, StringComparison.Ordinal))
            {
                await rogue.ExecuteAsync("SET", _tieBreaker, name).ConfigureAwait(false);
                changed = true;
            }
        }
        else
        {
            _reportedRogue = null;
        }
        if (changed || server.IsReplica || !await RoutedToAsync(master).ConfigureAwait(false))
        {
            await _data.ConfigureAsync().ConfigureAwait(false);   // the client reads every vote again, and chooses
        }
    }

    /// <summary>Whether the client sends the queue's calls to <paramref name="master"/> (with two masters it sends to
    /// the one it chose, or to either in turn before it has chosen).</summary>
    private async Task<bool> RoutedToAsync(EndPoint master) =>
        await _data.GetDatabase().IdentifyEndpointAsync(_tieBreaker).ConfigureAwait(false) is { } e && Same(e, master);

    /// <summary>What the first Sentinel to answer says is the service's master.</summary>
    private static async Task<EndPoint?> NamedMasterAsync(ConnectionMultiplexer sentinels, string service)
    {
        foreach (var endpoint in sentinels.GetEndPoints())
        {
            var sentinel = sentinels.GetServer(endpoint);
            if (!sentinel.IsConnected)
            {
                continue;
            }
            try
            {
                if (await sentinel.SentinelGetMasterAddressByNameAsync(service).ConfigureAwait(false) is { } master)
                {
                    return master;
                }
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
            }
        }
        return null;
    }

    /// <summary>The service's replicas, as the first Sentinel to answer knows them (none when none answers).</summary>
    private static async Task<EndPoint[]> ReplicasAsync(ConnectionMultiplexer sentinels, string service)
    {
        foreach (var endpoint in sentinels.GetEndPoints())
        {
            var sentinel = sentinels.GetServer(endpoint);
            if (!sentinel.IsConnected)
            {
                continue;
            }
            try
            {
                return await sentinel.SentinelGetReplicaAddressesAsync(service).ConfigureAwait(false);
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
            }
        }
        return [];
    }

    /// <summary>An address as StackExchange.Redis writes it (what its tie-breaker vote must match).</summary>
    internal static string Describe(EndPoint endpoint) => endpoint switch
    {
        DnsEndPoint d => $"{d.Host}:{d.Port}",
        IPEndPoint i => $"{i.Address}:{i.Port}",
        _ => endpoint.ToString() ?? "",
    };

    private static bool Same(EndPoint a, EndPoint b) => string.Equals(Describe(a), Describe(b), StringComparison.OrdinalIgnoreCase);

    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }
        _data.ConnectionRestored -= OnRestored;
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        await _sentinels.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }
}
