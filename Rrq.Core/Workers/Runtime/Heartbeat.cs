using Rrq.Connection;
using Rrq.Scripts;
using StackExchange.Redis;

namespace Rrq.Workers;

/// <summary>
/// A worker's heartbeat: a key that expires after three periods, refreshed every period on a
/// thread of its own (not the thread pool, so busy or blocking tasks cannot starve it). After each
/// beat it offers to run the lost-worker sweep, when the worker has one (the sweep itself takes its turn).
/// </summary>
/// <remarks>
/// A beat that fails (Redis away) is simply tried again at the next period; the key is set again, not
/// just extended, so a worker whose key expired during an outage comes back alive. A worker only
/// sweeps once its own beats have landed on time for a whole expiry window, and for two windows after a
/// failed or late beat: after an outage every worker's key may have expired together, processes see Redis
/// back a second or two apart, and a sweeper that had just come back would otherwise declare its live
/// peers lost before they had a chance to beat again. Any call of the worker that finds Redis unable to serve counts as
/// a failed beat, and stops a sweep in progress: a sweep that started before an outage and retried through it would
/// otherwise act once Redis is back, when its peers' keys had expired in the outage and they had not beaten again yet.
/// Its periods, and the windows, are on the worker's clock (a test's <see cref="TimeProvider"/> drives them).
/// </remarks>
internal sealed class Heartbeat : IDisposable
{
    public const int Multiplier = 3;

    private readonly QueueContext _queue;
    private readonly string _workerId;
    private readonly TimeSpan _period;
    private readonly Func<CancellationToken, Task>? _sweep;
    private readonly Action<HeartbeatNote> _report;
    private readonly TimeProvider _time;
    private readonly ManualResetEventSlim _stop = new(false);
    private readonly Thread _thread;
    private int _sweeping;
    private long _lastBeat;
    private long _healthySince;
    private bool _failing;
    private bool _recovering;   // the window started after a failed or late beat: wait two
    private int _outage;   // a call of this worker found Redis unable to serve since the last beat
    private CancellationTokenSource? _sweepStop;   // the sweep in progress, stopped when an outage starts

    public Heartbeat(QueueContext queue, string workerId, TimeSpan period, Func<CancellationToken, Task>? sweep, Action<HeartbeatNote> report,
        TimeProvider time)
    {
        _time = time;
        _lastBeat = _healthySince = time.GetTimestamp();
        _queue = queue;
        _workerId = workerId;
        _period = period;
        _sweep = sweep;
        _report = report;
        _thread = new Thread(Run) { IsBackground = true, Name = "rrq heartbeat" };
    }

    public TimeSpan Expiry => _period * Multiplier;

    public void Start()
    {
        _queue.Retry.OutageStarted += OnOutage;
        _thread.Start();
    }

    private void OnOutage()
    {
        Volatile.Write(ref _outage, 1);
        try
        {
            Volatile.Read(ref _sweepStop)?.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // That sweep has just ended.
        }
    }

    private int _disposed;

    /// <summary>Whether this worker's beats have all landed on time for a whole expiry window.</summary>
    internal bool Steady => Volatile.Read(ref _outage) == 0 && _healthySince != 0
        && _time.GetElapsedTime(_healthySince) >= (_recovering ? Expiry * 2 : Expiry);

    /// <summary>Waits one period, on the worker's clock; true when the heartbeat was stopped meanwhile.</summary>
    private bool Stopped()
    {
        if (_time == TimeProvider.System)
        {
            return _stop.Wait(_period);
        }
        using var tick = new ManualResetEventSlim(false);
        using var timer = _time.CreateTimer(_ =>
        {
            try
            {
                tick.Set();
            }
            catch (ObjectDisposedException)
            {
                // The period ended as the heartbeat stopped.
            }
        }, null, _period, Timeout.InfiniteTimeSpan);
        WaitHandle.WaitAny([_stop.WaitHandle, tick.WaitHandle]);
        return _stop.IsSet;
    }

    private void Run()
    {
        RedisRetry.ForeverScope();
        while (!Stopped())
        {
            try
            {
                // One period to land the beat; after that the next beat tries again.
                using var cts = new CancellationTokenSource(_period, _time);
                _queue.WorkerBeatAsync(_workerId, Expiry, cts.Token).GetAwaiter().GetResult();
                var now = _time.GetTimestamp();
                if (Interlocked.Exchange(ref _outage, 0) == 1 || _healthySince == 0 || _time.GetElapsedTime(_lastBeat, now) > _period * 1.5)
                {
                    // Late (a stall), or the first beat after failures of its own or of the worker's other calls: start
                    // the window again.
                    _healthySince = now;
                    _recovering = true;
                }
                _lastBeat = now;
                if (_failing)
                {
                    _failing = false;
                    _report(new HeartbeatNote(HeartbeatEvent.Refreshed, null));
                }
            }
            catch (Exception e) when (e is RedisException or TimeoutException or RrqException or OperationCanceledException)
            {
                _healthySince = 0;
                if (!_failing)
                {
                    _failing = true;
                    _report(new HeartbeatNote(HeartbeatEvent.NotRefreshed, RedisFaults.Describe(e)));
                }
                continue;
            }
            // The sweep runs beside the beat, never in its way: a slow sweep must not let this worker's
            // own key expire. At most one sweep at a time.
            if (_sweep is not null && Steady && !_stop.IsSet && Interlocked.CompareExchange(ref _sweeping, 1, 0) == 0)
            {
                var stop = new CancellationTokenSource();
                Volatile.Write(ref _sweepStop, stop);
                if (!Steady)
                {
                    stop.Cancel();   // an outage started as it was set up
                }
                _ = Task.Run(async () =>
                {
                    RedisRetry.ForeverScope();
                    try
                    {
                        await _sweep(stop.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (stop.IsCancellationRequested)
                    {
                        // An outage started: the next steady window sweeps again.
                    }
                    catch (Exception e) when (e is RedisException or TimeoutException or RrqException or ObjectDisposedException)
                    {
                        _report(new HeartbeatNote(HeartbeatEvent.SweepFailed, RedisFaults.Describe(e)));
                    }
                    finally
                    {
                        Interlocked.CompareExchange(ref _sweepStop, null, stop);
                        stop.Dispose();
                        Volatile.Write(ref _sweeping, 0);
                    }
                });
            }
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _queue.Retry.OutageStarted -= OnOutage;
        _stop.Set();
        if (_thread.IsAlive && Thread.CurrentThread != _thread)
        {
            _thread.Join(TimeSpan.FromSeconds(10));
        }
        _stop.Dispose();
    }
}

/// <summary>What a heartbeat has to tell its worker's log.</summary>
internal enum HeartbeatEvent { Refreshed, NotRefreshed, SweepFailed }

/// <summary>A heartbeat event and its cause (for failures).</summary>
internal readonly record struct HeartbeatNote(HeartbeatEvent Event, string? Cause);
