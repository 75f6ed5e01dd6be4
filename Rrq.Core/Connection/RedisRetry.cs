using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;

namespace Rrq.Connection;

/// <summary>
/// Where every Redis call of a queue is retried through a transient fault (see <see cref="RedisFaults"/>),
/// with capped, jittered exponential backoff. Two budgets: a worker's calls retry for as long as the
/// outage lasts (<see cref="ForeverScope"/>); anyone else's give up once the outage has lasted
/// <see cref="Budget"/> and throw an <see cref="RrqConnectionException"/> that names it. A fault that is no outage, a
/// connection that reaches only replicas whose masters are up (<see cref="ReplicaCheck"/>), is thrown at once for both.
/// Each outage is reported once when it starts and once, with its length, when it ends.
/// </summary>
internal sealed class RedisRetry
{
    /// <summary>The default outage budget of a controller's calls.</summary>
    public static readonly TimeSpan DefaultBudget = TimeSpan.FromSeconds(60);

    private static readonly TimeSpan FirstDelay = TimeSpan.FromMilliseconds(25);
    private static readonly TimeSpan MaxDelay = TimeSpan.FromMilliseconds(500);

    private static readonly AsyncLocal<bool> Forever = new();
    private static readonly ResiliencePropertyKey<long> StartedKey = new("rrq.started");
    private static readonly ResiliencePropertyKey<string?> PermanentKey = new("rrq.permanent");

    private readonly string _address;
    private readonly ILogger _logger;
    private readonly ResiliencePipeline _pipeline;
    private readonly Lock _lock = new();
    private long _outageStarted;   // Stopwatch timestamp; 0 when Redis is answering
    private string? _outageCause;

    public RedisRetry(string address, ILogger logger)
    {
        _address = address;
        _logger = logger;
        _pipeline = new ResiliencePipelineBuilder().AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = args => ShouldRetryAsync(args.Outcome.Exception, args.Context),
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = FirstDelay,
            MaxDelay = MaxDelay,
            MaxRetryAttempts = int.MaxValue,
            OnRetry = args =>
            {
                NoteFailure(args.Outcome.Exception!);
                return default;
            },
        }).Build();
    }

    /// <summary>How long calls outside a worker keep retrying through one outage (default 60 s).</summary>
    public TimeSpan Budget { get; set; } = DefaultBudget;

    /// <summary>What tells a fault that will not pass from an outage: a connection whose only servers are replicas with
    /// their masters up (null: none, every transient fault is retried).</summary>
    public ReplicaCheck? Replicas { get; set; }

    /// <summary>Called with a line when an outage starts and when it ends (a worker prints these).</summary>
    public event Action<string>? Reported;

    /// <summary>Called as an outage starts: a call through this layer has just found Redis unable to serve (before it is
    /// tried again). A worker's sweep stops there, rather than act, once Redis is back, on what the outage did.</summary>
    public event Action? OutageStarted;

    /// <summary>Makes the calls of the current async flow (and what it calls) retry for as long as an
    /// outage lasts: a worker's loop, heartbeat and sweep. Restored when the flow returns.</summary>
    public static void ForeverScope() => Forever.Value = true;

    /// <summary>Runs <paramref name="call"/>, retrying it through transient faults.</summary>
    /// <exception cref="RrqConnectionException">The outage outlasted the budget (never inside a worker).</exception>
    public async Task<T> ExecuteAsync<T>(Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken = default)
    {
        // The first try is made directly: the retry pipeline costs microseconds a call, and is only needed once
        // a call has failed.
        cancellationToken.ThrowIfCancellationRequested();
        var started = Stopwatch.GetTimestamp();
        try
        {
            var result = await call(cancellationToken).ConfigureAwait(false);
            NoteSuccess();
            return result;
        }
        catch (Exception e) when (RedisFaults.IsTransient(e) && !cancellationToken.IsCancellationRequested)
        {
            NoteFailure(e);
            if (Replicas is not null && await Replicas.PermanentProblemAsync().ConfigureAwait(false) is { } problem)
            {
                throw new RrqConnectionException(_address, problem, e);
            }
            if (!WithinBudget(started))
            {
                throw Exhausted(e, started);   // the first try alone (a 5 s timeout) used the budget up
            }
        }
        await Task.Delay(FirstDelay, cancellationToken).ConfigureAwait(false);
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        context.Properties.Set(StartedKey, started);
        try
        {
            var result = await _pipeline.ExecuteAsync(static (ctx, c) => new ValueTask<T>(c(ctx.CancellationToken)), context, call)
                .ConfigureAwait(false);
            NoteSuccess();
            return result;
        }
        catch (Exception e) when (RedisFaults.IsTransient(e) && !cancellationToken.IsCancellationRequested)
        {
            if (context.Properties.GetValue(PermanentKey, null) is { } problem)
            {
                throw new RrqConnectionException(_address, problem, e);
            }
            throw Exhausted(e, started);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    /// <summary>Whether a call that started at <paramref name="started"/> may be tried again.</summary>
    private bool WithinBudget(long started) =>
        Forever.Value || Budget == Timeout.InfiniteTimeSpan || Stopwatch.GetElapsedTime(started) < Budget;

    private RrqConnectionException Exhausted(Exception e, long started) => new(_address,
        $"Redis at {_address} has not answered Rrq for {Stopwatch.GetElapsedTime(started).TotalSeconds:0.#} s ({RedisFaults.Describe(e)}); " +
        $"gave up after the outage budget of {Budget.TotalSeconds:0.#} s. Nothing was changed by this call unless Redis " +
        "applied it before the connection failed. Check that Redis is running and reachable, then call again " +
        "(or raise RrqController.OutageBudget).", e);

    private async ValueTask<bool> ShouldRetryAsync(Exception? e, ResilienceContext context)
    {
        if (!RedisFaults.IsTransient(e) || context.CancellationToken.IsCancellationRequested)
        {
            return false;
        }
        if (Replicas is not null && await Replicas.PermanentProblemAsync().ConfigureAwait(false) is { } problem)
        {
            context.Properties.Set(PermanentKey, problem);   // not an outage: said at once, even inside a worker
            return false;
        }
        return WithinBudget(context.Properties.GetValue(StartedKey, Stopwatch.GetTimestamp()));
    }

    private void NoteFailure(Exception e)
    {
        lock (_lock)
        {
            if (_outageStarted != 0)
            {
                return;
            }
            _outageStarted = Stopwatch.GetTimestamp();
            _outageCause = RedisFaults.Describe(e);
        }
        var line = $"Redis at {_address} cannot serve Rrq ({_outageCause}): retrying until it can";
        Logging.RrqLog.RedisOutage(_logger, _address, _outageCause);
        OutageStarted?.Invoke();
        Reported?.Invoke(line);
    }

    private void NoteSuccess()
    {
        if (Volatile.Read(ref _outageStarted) == 0)
        {
            return;
        }
        TimeSpan length;
        string? cause;
        lock (_lock)
        {
            if (_outageStarted == 0)
            {
                return;
            }
            length = Stopwatch.GetElapsedTime(_outageStarted);
            cause = _outageCause;
            _outageStarted = 0;
        }
        var line = $"Redis at {_address} is back after {length.TotalSeconds:0.0} s ({cause})";
        Logging.RrqLog.RedisBack(_logger, _address, length.TotalSeconds.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture), cause);
        Reported?.Invoke(line);
    }
}
