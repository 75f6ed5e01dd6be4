using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Rrq.Connection;
using Rrq.Controller;
using Rrq.Keys;
using Rrq.Scripts;
using StackExchange.Redis;

namespace Rrq;

/// <summary>
/// The handle on one queue: submits tasks, reads their status and results, sets the worker
/// environment and manages workers (rrq's <c>rrq_controller</c>). Create it with
/// <see cref="Connect"/>; every I/O method has a synchronous form for REPL use and an
/// <c>Async</c> form that takes a <see cref="CancellationToken"/>. Safe to use from many threads.
/// </summary>
[Display.TypeFormatterSource(typeof(Display.RrqFormatterSource))]
public sealed partial class RrqController : IDisposable, IAsyncDisposable
{
    internal static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = false, TypeInfoResolver = Controller.RrqJsonContext.Default };

    private readonly bool _ownsConnection;
    private Connection.SentinelGuard? _sentinelGuard;
    private readonly CompletionWaiter _waiter;
    private int _disposed;

    private RrqController(string queueId, IConnectionMultiplexer redis, RedisAddress address, bool ownsConnection,
        bool follow, TimeSpan? timeoutTaskWait, ILogger? logger, Store.OffloadStore values)
    {
        Redis = redis;
        Address = address;
        _ownsConnection = ownsConnection;
        Follow = follow;
        TimeoutTaskWait = timeoutTaskWait;
        Logger = logger ?? NullLogger.Instance;
        Queue = new QueueContext(redis.GetDatabase(), new RrqKeys(queueId, HasShardedPubSub(redis)), values,
            new RedisRetry(address.Endpoints, Logger) { Replicas = new Connection.ReplicaCheck(redis) });
        _waiter = new CompletionWaiter(redis, Keys.TaskCompleteChannel);
        RrqTelemetry.Track(this);
    }

    /// <summary>A cluster whose servers have sharded pub/sub (Redis 7 or later; asked with COMMAND INFO, as a cluster of
    /// another make may lack it): its channels are sharded, so that a notice goes to the node that holds the queue's
    /// slot, not to every node (plain pub/sub on a cluster is broadcast). A single server, or Garnet, keeps plain channels.</summary>
    private static bool HasShardedPubSub(IConnectionMultiplexer redis)
    {
        var server = redis.GetEndPoints().Select(e => redis.GetServer(e)).FirstOrDefault(s => s.IsConnected && s.ServerType == ServerType.Cluster);
        if (server is null)
        {
            return false;
        }
        try
        {
            // Asked once, of a node just connected, as the controller is made: not through the retry layer (there is no
            // queue context yet), and a node that cannot say gets plain channels, which work everywhere.
            return server.Execute("COMMAND", "INFO", "SPUBLISH") is { Resp2Type: ResultType.Array } info && info.Length == 1 && !info[0].IsNull;
        }
        catch (RedisException)
        {
            return false;   // no COMMAND INFO: no sharded channels either
        }
    }

    /// <summary>The named queues this controller has submitted to (and "default"), for the queue-length gauge.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> _usedQueues = new(StringComparer.Ordinal)
    {
        [Rrq.Keys.RrqKeys.DefaultQueue] = 0,
    };

    /// <summary>The length of each queue it knows of, read now (one round trip; the gauges' callback is synchronous).</summary>
    internal IEnumerable<(string Queue, long Length)> ObservedQueueLengths()
    {
        ThrowIfDisposed();
        var names = _usedQueues.Keys.Order(StringComparer.Ordinal).ToArray();
        return Queue.QueueLengthsNow(names, TimeSpan.FromSeconds(2));
    }

    /// <summary>The queue this controller works on.</summary>
    public string QueueId => Keys.QueueId;

    /// <summary>Whether task reads follow retry chains to their newest task unless told otherwise.</summary>
    public bool Follow { get; }

    /// <summary>How long <see cref="TaskWait(string, TimeSpan?)"/> waits when given no timeout; null waits for ever.</summary>
    public TimeSpan? TimeoutTaskWait { get; }

    /// <summary>
    /// The keys this controller signs what it submits with (tasks, shared locals, worker environments, messages), and
    /// with which workers built on it (in-process, or spawned by it) check what they run. Set at connection from
    /// <c>RRQ_SIGNING_KEY_FILE</c>; null (the default) signs and checks nothing. See <see cref="RrqSigningKeys"/>.
    /// </summary>
    public RrqSigningKeys? SigningKeys { get; set; }

    /// <summary>The payload signed as <paramref name="kind"/> of this queue, when this controller has keys.</summary>
    internal byte[] SealPayload(string kind, byte[] body) => SigningKeys?.Seal(kind, QueueId, body) ?? body;

    /// <inheritdoc cref="SealPayload(string, byte[])"/>
    internal string SealText(string kind, string body) => SigningKeys?.Seal(kind, QueueId, body) ?? body;

    /// <summary>The connection string this controller used, with its password (if any) shown as <c>*****</c>. Workers
    /// it spawns get the real one, in a file only this user can read.</summary>
    public string RedisConfiguration => Address.Redacted;

    /// <summary>The Redis connection (shared with whoever passed it in, else owned by this controller).</summary>
    public IConnectionMultiplexer Redis { get; }

    /// <summary>Where values larger than a threshold are kept instead of Redis; null when they all stay in Redis.</summary>
    public RrqOffload? Offload => Values.Offload;

    /// <summary>
    /// How long a call keeps retrying while Redis is unreachable, stalled, restarting or failing over
    /// before it throws an <see cref="RrqConnectionException"/> naming the outage (default 60 seconds;
    /// <see cref="Timeout.InfiniteTimeSpan"/> retries for ever). Workers always retry for ever.
    /// </summary>
    public TimeSpan OutageBudget
    {
        get => Queue.Retry.Budget;
        set
        {
            if (value <= TimeSpan.Zero && value != Timeout.InfiniteTimeSpan)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "OutageBudget must be positive (or Timeout.InfiniteTimeSpan).");
            }
            Queue.Retry.Budget = value;
        }
    }

    /// <summary>The database, keys, value codec and retry layer of this queue: every Redis call goes through it.</summary>
    internal QueueContext Queue { get; }
    internal RrqKeys Keys => Queue.Keys;
    /// <summary>Encodes and decodes stored values, offloading large ones.</summary>
    internal Store.OffloadStore Values => Queue.Values;
    internal RedisAddress Address { get; }
    internal ILogger Logger { get; }

    /// <summary>The clock the controller and its workers read (deadlines, stamps); a test may set a fake one before use.</summary>
    internal TimeProvider Time { get; set; } = TimeProvider.System;

    /// <summary>
    /// Connects to a queue, creating it on first use. <paramref name="redis"/> is a StackExchange.Redis
    /// connection string (or a <c>redis://</c> URL); when null, <c>RRQ_REDIS</c>, then <c>REDIS_URL</c>,
    /// then <c>localhost:6379</c>.
    /// </summary>
    /// <param name="queueId">Any printable string without braces or white space, e.g. "rrq:3f9a2c1b".</param>
    /// <param name="redis">Where Redis is; see above.</param>
    /// <param name="follow">Follow retry chains when reading tasks (default true).</param>
    /// <param name="timeoutTaskWait">Default timeout of TaskWait; null (the default) waits for ever.</param>
    /// <param name="logger">Where to log; none by default.</param>
    /// <param name="embedded">When no Redis is configured and nothing answers on localhost:6379, start
    /// an embedded Garnet server in this process (default true; the environment variable
    /// <c>RRQ_EMBEDDED=0</c> also turns it off). Needs Rrq.Scripting.</param>
    /// <param name="offload">Keep values larger than a threshold in a directory instead of Redis (see
    /// <see cref="RrqOffload"/>); default from <c>RRQ_OFFLOAD</c>, else none. Workers spawned by this
    /// controller get the same.</param>
    /// <exception cref="RrqConnectionException">Redis did not answer within 3 seconds (unless the connection string sets connectTimeout) (the message names the address).</exception>
    /// <exception cref="RrqException">The queue was created by an incompatible schema version, or the offload directory cannot be written.</exception>
    public static RrqController Connect(string queueId, string? redis = null, bool follow = true,
        TimeSpan? timeoutTaskWait = null, ILogger? logger = null, bool embedded = true, RrqOffload? offload = null) =>
        ConnectAsync(queueId, redis, follow, timeoutTaskWait, logger, embedded, offload).GetAwaiter().GetResult();

    /// <inheritdoc cref="Connect(string, string?, bool, TimeSpan?, ILogger?, bool, RrqOffload?)"/>
    public static Task<RrqController> ConnectAsync(string queueId, string? redis = null, bool follow = true,
        TimeSpan? timeoutTaskWait = null, ILogger? logger = null, bool embedded = true, RrqOffload? offload = null,
        CancellationToken cancellationToken = default) =>
        ConnectAsync(queueId, redis, follow, timeoutTaskWait, logger, embedded, offload, asWorker: false, cancellationToken);

    /// <summary>As the public form; <paramref name="asWorker"/> (the rrq-worker program) never creates the queue
    /// (a worker starting as the queue is destroyed must not bring it back) and gives Redis longer to answer
    /// the first time (workers start many at once, on loaded machines). <c>create</c> says whether a queue that does not
    /// exist yet is created (default: unless <paramref name="asWorker"/>): false for a reader such as <c>rrq-worker info</c>,
    /// for which a mistyped id must create nothing.</summary>
    internal static async Task<RrqController> ConnectAsync(string queueId, string? redis, bool follow,
        TimeSpan? timeoutTaskWait, ILogger? logger, bool embedded, RrqOffload? offload, bool asWorker,
        CancellationToken cancellationToken, bool? create = null)
    {
        QueueIdValidation.Check(queueId);
        CheckTimeout(timeoutTaskWait, nameof(timeoutTaskWait));
        var values = Store.OffloadStore.Create(queueId, offload ?? RrqOffload.FromEnvironment());
        var signing = RrqSigningKeys.FromEnvironment();   // a bad key file fails here, before anything is connected
        var address = RedisAddress.Resolve(redis);
        if (address.Source == "default" && embedded && Environment.GetEnvironmentVariable("RRQ_EMBEDDED") != "0"
            && !await address.AnswersAsync().ConfigureAwait(false))
        {
            address = StartEmbedded(address, logger);
        }
        ConnectionMultiplexer mux;
        Connection.SentinelGuard? guard = null;
        try
        {
            var options = address.Options(asWorker);
            if (string.IsNullOrEmpty(options.ServiceName))
            {
                mux = await ConnectionMultiplexer.ConnectAsync(options).WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            else
            {
                (mux, guard) = await Connection.SentinelGuard.ConnectAsync(options, queueId, logger ?? NullLogger.Instance,
                    TimeProvider.System, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException or ArgumentException or TimeoutException)
        {
            if (CertificateProblem(e) is { } problem)
            {
                throw new RrqConnectionException(address.Endpoints,
                    $"Redis at {address.Described} presented a TLS certificate this process does not trust ({problem}). " +
                    "If the server's certificate comes from a private CA, point SSL_CERT_FILE at that CA's certificate (PEM) " +
                    "for Rrq and its workers, or add it to the machine's trusted certificates; the host name in the connection " +
                    "string must be one the certificate names (sslHost=... sets another). Nothing was sent to the server.", e);
            }
            if (IsAuthenticationFailure(e))
            {
                throw new RrqConnectionException(address.Endpoints,
                    $"Redis at {address.Described} refused the credentials Rrq gave it ({Reason(e)}). Check the user name and " +
                    "password in the connection string (password=..., user=...) or in RRQ_REDIS.", e);
            }
            // Something listening that is not Redis (another service on the port, or one that wants TLS)
            // deserves a different hint from nothing listening at all.
            var listening = e is not ArgumentException && await address.AnswersAsync().ConfigureAwait(false);
            throw new RrqConnectionException(address.Endpoints, listening
                ? $"Something accepts connections at {address.Described} but did not answer as a Redis server does " +
                  $"({Reason(e)}). Is another service using that port, or does the server need TLS " +
                  "(ssl=true in the connection string)? Point Rrq at a Redis server with a connection string or RRQ_REDIS."
                : $"Could not connect to Redis at {address.Described}: {Reason(e)} " +
                  "Start a Redis server there, or pass a connection string / set RRQ_REDIS.", e);
        }
        var controller = new RrqController(queueId, mux, address, ownsConnection: true, follow, timeoutTaskWait, logger, values)
        {
            SigningKeys = signing,
            _sentinelGuard = guard,
        };
        try
        {
            await controller.InitialiseAsync(create: create ?? !asWorker).ConfigureAwait(false);
        }
        catch
        {
            await controller.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return controller;
    }

    /// <summary>Connects to a queue over a connection the caller owns (an app that already has one).
    /// <paramref name="configuration"/> is what workers spawned by this controller will use.</summary>
    public static async Task<RrqController> ConnectAsync(string queueId, IConnectionMultiplexer redis,
        string configuration, bool follow = true, TimeSpan? timeoutTaskWait = null, ILogger? logger = null, RrqOffload? offload = null)
    {
        ArgumentNullException.ThrowIfNull(redis);
        QueueIdValidation.Check(queueId);
        CheckTimeout(timeoutTaskWait, nameof(timeoutTaskWait));
        var controller = new RrqController(queueId, redis, new RedisAddress(configuration, "argument"), ownsConnection: false,
            follow, timeoutTaskWait, logger, Store.OffloadStore.Create(queueId, offload ?? RrqOffload.FromEnvironment()))
        {
            SigningKeys = RrqSigningKeys.FromEnvironment(),
        };
        await controller.InitialiseAsync().ConfigureAwait(false);
        return controller;
    }

    private static RedisAddress StartEmbedded(RedisAddress tried, ILogger? logger)
    {
        var server = Embedded.IEmbeddedServer.Find() ?? throw new RrqConnectionException(tried.Endpoints,
            $"No Redis is configured and nothing answers at {tried.Described}, and the embedded server is not " +
            "available: it comes with the Rrq.Embedded package (add it to the app, or `#r \"nuget: Rrq.Embedded\"` in a notebook). " +
            "Otherwise start a Redis server, or set RRQ_REDIS.");
        var (address, started) = server.Start();
        if (started)
        {
            // Said on standard error whatever the logging: a newcomer must know where their data lives.
            Console.Error.WriteLine($"ℹ No Redis configured and none at {tried.Endpoints}: started an embedded Garnet server at {address}. " +
                "Its data lives only as long as this process; set RRQ_REDIS to use a Redis server.");
            if (logger is not null)
            {
                Logging.RrqLog.EmbeddedStarted(logger, tried.Endpoints, address);
            }
        }
        return new RedisAddress(address, "embedded");
    }

    private async Task InitialiseAsync(bool create = true)
    {
        var defaults = JsonSerializer.Serialize(new RrqWorkerConfig(), JsonOptions);
        string? version;
        try
        {
            version = await Queue.SchemaCheckAsync(RrqKeys.SchemaVersion, defaults, create).ConfigureAwait(false);
        }
        catch (RrqPermissionException e)
        {
            throw new RrqConnectionException(Address.Endpoints, $"Cannot use queue '{QueueId}' at {Address.Described}: {e.Message}", e);
        }
        catch (RedisServerException e)
        {
            throw new RrqConnectionException(Address.Endpoints,
                $"The server at {Address.Described} refused Rrq's Lua scripts ({e.Message}). Rrq needs Redis 6.2 or " +
                "newer (or Garnet started with --lua --lua-transaction-mode).", e);
        }
        if (version is null && !create)
        {
            throw new RrqException($"Queue '{QueueId}' does not exist at {Address.Described}: it was never created, or has " +
                "been destroyed. Check the queue id and the Redis address; a queue is created when a controller first connects to it " +
                "(RrqController.Connect), and workers and readers (rrq-worker info, dashboard) join only an existing one.");
        }
        if (!string.Equals(version, RrqKeys.SchemaVersion, StringComparison.Ordinal))
        {
            throw new RrqException(
                $"Queue '{QueueId}' was created with schema '{version}', but this Rrq writes '{RrqKeys.SchemaVersion}'. " +
                (version is not null && version.StartsWith("rrq-dotnet/", StringComparison.Ordinal)
                    ? "Use the Rrq version that created it, or destroy the queue and start again."
                    : "That queue belongs to another program (R's rrq?): pick another queue id."));
        }
        // Where large values of this queue are kept: said by processes that have the directory, so that
        // one without it can say where to look.
        if (Values.Offload is { } offload)
        {
            await Queue.OffloadPathSetAsync(offload.Path).ConfigureAwait(false);
        }
        else
        {
            Values.PathElsewhere = await Queue.OffloadPathAsync().ConfigureAwait(false);
        }
    }

    internal static void CheckTimeout(TimeSpan? timeout, string name)
    {
        if (timeout is { } t && t < TimeSpan.Zero && t != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(name, t, $"{name} must be zero or more (or null to wait for ever).");
        }
    }

    /// <summary>Why the server's TLS certificate was not accepted (UntrustedRoot, RemoteCertificateNameMismatch, ...), or
    /// null when that is not what went wrong.</summary>
    private static string? CertificateProblem(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            if (x is System.Security.Authentication.AuthenticationException)
            {
                return FirstLine(x.Message);
            }
            var at = x.Message.IndexOf("(AuthenticationException)", StringComparison.Ordinal);
            if (at >= 0)
            {
                return FirstLine(x.Message[(at + "(AuthenticationException)".Length)..]).Trim();
            }
        }
        return null;
    }

    private static bool IsAuthenticationFailure(Exception e) =>
        e is RedisConnectionException { FailureType: ConnectionFailureType.AuthenticationFailure }
        || e.Message.Contains("WRONGPASS", StringComparison.Ordinal) || e.Message.Contains("NOAUTH", StringComparison.Ordinal)
        || e.InnerException is { } inner && IsAuthenticationFailure(inner);

    /// <summary>The client's reason, first line only, without its advice about its own settings (abortConnect):
    /// that advice is for programs that use the client directly, not for Rrq's users.</summary>
    private static string Reason(Exception e)
    {
        var line = FirstLine(e.Message);
        var advice = line.IndexOf("To allow this multiplexer", StringComparison.Ordinal);
        if (advice < 0)
        {
            advice = line.IndexOf("abortConnect", StringComparison.OrdinalIgnoreCase) is var a and >= 0
                ? line.LastIndexOf('.', a) + 1 : -1;
        }
        return (advice > 0 ? line[..advice] : line).Trim();
    }

    private static string FirstLine(string s)
    {
        var i = s.IndexOf('\n', StringComparison.Ordinal);
        return (i < 0 ? s : s[..i]).Trim();
    }

    /// <summary>Shows the queue id, as rrq prints <c>&lt;rrq_controller: id&gt;</c>.</summary>
    public override string ToString() => $"<rrq_controller: {QueueId}>";

    /// <inheritdoc />
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        RrqTelemetry.Untrack(this);
        _waiter.Dispose();
        _sentinelGuard?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        if (_ownsConnection)
        {
            Redis.Dispose();
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        RrqTelemetry.Untrack(this);
        _waiter.Dispose();
        if (_sentinelGuard is not null)
        {
            await _sentinelGuard.DisposeAsync().ConfigureAwait(false);
        }
        if (_ownsConnection)
        {
            await Redis.DisposeAsync().ConfigureAwait(false);
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed != 0, this);
}
