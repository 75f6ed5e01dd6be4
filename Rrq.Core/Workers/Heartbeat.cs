using StackExchange.Redis;

namespace Rrq.Workers;

/// <summary>
/// A worker's heartbeat: a key that expires after three periods, refreshed every period on a
/// thread of its own (not the thread pool, so busy or blocking tasks cannot starve it). After each
/// beat it offers to run the lost-worker sweep, when the worker has one (the sweep itself takes its turn).
/// </summary>
internal sealed class Heartbeat : IDisposable
{
    public const int Multiplier = 3;

    private readonly IDatabase _db;
    private readonly RedisKey _key;
    private readonly TimeSpan _period;
    private readonly Func<Task>? _sweep;
    private readonly Action<string> _report;
    private readonly ManualResetEventSlim _stop = new(false);
    private readonly Thread _thread;
    private int _sweeping;

    public Heartbeat(IDatabase db, RedisKey key, TimeSpan period, Func<Task>? sweep, Action<string> report)
    {
        _db = db;
        _key = key;
        _period = period;
        _sweep = sweep;
        _report = report;
        _thread = new Thread(Run) { IsBackground = true, Name = "rrq heartbeat" };
    }

    public TimeSpan Expiry => _period * Multiplier;

    public void Start() => _thread.Start();

    private int _disposed;

    private void Run()
    {
        while (!_stop.Wait(_period))
        {
            try
            {
                _db.StringSet(_key, ((long)Expiry.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture), Expiry);
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                _report($"heartbeat could not be refreshed: {e.Message}");
            }
            // The sweep runs beside the beat, never in its way: a slow sweep must not let this worker's
            // own key expire. At most one sweep at a time.
            if (_sweep is not null && !_stop.IsSet && Interlocked.CompareExchange(ref _sweeping, 1, 0) == 0)
            {
                _ = Task.Run(async () =>
                {
                    try
                    {
                        await _sweep().ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is RedisException or TimeoutException or RrqException or ObjectDisposedException)
                    {
                        _report($"lost-worker sweep failed: {e.Message}");
                    }
                    finally
                    {
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
        _stop.Set();
        if (_thread.IsAlive && Thread.CurrentThread != _thread)
        {
            _thread.Join(TimeSpan.FromSeconds(10));
        }
        _stop.Dispose();
    }
}
