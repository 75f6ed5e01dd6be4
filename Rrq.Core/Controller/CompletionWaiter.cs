using System.Collections.Concurrent;
using StackExchange.Redis;

namespace Rrq.Controller;

/// <summary>
/// Wakes waiters when tasks finish. Finishing scripts publish the task id on one channel per
/// queue; each wait registers and is given the notices for the ids it watches. The notices are
/// matched here, on the connection's reader, and a waiter is woken only when it has something to
/// do: every id it watches has settled, or one needs a fresh look (MOVED, a recheck). A wait on
/// thousands of tasks is woken once, not once per task.
/// After a reconnect (when a publication may have been missed) every waiter is told to look again.
/// </summary>
internal sealed class CompletionWaiter : IDisposable
{
    public const string Recheck = "*";

    private readonly IConnectionMultiplexer _redis;
    private readonly RedisChannel _channel;
    private const int MaxResults = 1024;
    private readonly ConcurrentDictionary<Registration, byte> _waiters = new();
    private readonly ConcurrentDictionary<string, byte[]> _results = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _resultOrder = new();
    private readonly SemaphoreSlim _subscribeLock = new(1, 1);
    private bool _subscribed;

    public CompletionWaiter(IConnectionMultiplexer redis, RedisChannel channel)
    {
        _redis = redis;
        _channel = channel;
        _redis.ConnectionRestored += OnRestored;
    }

    /// <summary>Starts listening (once); call before reading the statuses being waited on.</summary>
    public async Task<Registration> RegisterAsync()
    {
        if (!_subscribed)
        {
            await _subscribeLock.WaitAsync().ConfigureAwait(false);
            try
            {
                if (!_subscribed)
                {
                    // A handler called straight from the connection's reader: one hop less than a message queue.
                    try
                    {
                        await _redis.GetSubscriber().SubscribeAsync(_channel, (_, m) => OnMessage(m)).ConfigureAwait(false);
                    }
                    catch (Exception e) when (Connection.RedisFaults.IsTransient(e))
                    {
                        // The first wait came while the connection was down (a master failing over). The client has the
                        // subscription recorded and sends it again when it reconnects (trying again here would add the
                        // handler twice); until then the wait reads statuses on its safety poll, and OnRestored tells it
                        // to look again.
                    }
                    _subscribed = true;
                }
            }
            finally
            {
                _subscribeLock.Release();
            }
        }
        var registration = new Registration(this);
        _waiters[registration] = 0;
        return registration;
    }

    /// <summary>Takes (once) the value a completion notification carried for a task, if any.</summary>
    public bool TryTakeResult(string taskId, out byte[] value) => _results.TryRemove(taskId, out value!);

    /// <summary>Forgets a carried value (the task was retried or deleted through this controller).</summary>
    public void Forget(string taskId) => _results.TryRemove(taskId, out _);

    /// <summary>"id STATUS" or "id COMPLETE value-bytes": the value is kept for one read, the rest goes to the waiters.
    /// "= STATUS id id ..." is one notice for many tasks (a fan-out of IMPOSSIBLE dependents, a deletion).</summary>
    private void OnMessage(RedisValue message)
    {
        if (message.IsNull)
        {
            Publish(Recheck, Recheck, settles: false);
            return;
        }
        var bytes = (byte[])message!;
        if (bytes.Length > 2 && bytes[0] == (byte)'=' && bytes[1] == (byte)' ')
        {
            var parts = System.Text.Encoding.ASCII.GetString(bytes, 2, bytes.Length - 2).Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length > 1)
            {
                var deleted = parts[0] == "DELETED";
                foreach (var taskId in parts.AsSpan(1))
                {
                    _results.TryRemove(taskId, out _);
                    if (!deleted)
                    {
                        Publish(taskId, taskId + " " + parts[0], Settles(parts[0]));
                    }
                }
            }
            return;
        }
        var first = Array.IndexOf(bytes, (byte)' ');
        var second = first < 0 ? -1 : Array.IndexOf(bytes, (byte)' ', first + 1);
        var head = System.Text.Encoding.ASCII.GetString(bytes, 0, second < 0 ? bytes.Length : second);
        var id = first < 0 ? head : head[..first];
        if (second > 0 && head.EndsWith(" COMPLETE", StringComparison.Ordinal))
        {
            _results[id] = bytes[(second + 1)..];
            _resultOrder.Enqueue(id);
            while (_resultOrder.Count > MaxResults && _resultOrder.TryDequeue(out var old))
            {
                _results.TryRemove(old, out _);
            }
        }
        else
        {
            _results.TryRemove(id, out _);   // MOVED, DELETED, or a failure: any value held is no longer the task's
        }
        if (!head.EndsWith(" DELETED", StringComparison.Ordinal))
        {
            Publish(id, head, first > 0 && Settles(head[(first + 1)..]));
        }
    }

    /// <summary>A status after which a waiter has nothing more to look up (MOVED may need the chain followed).</summary>
    private static bool Settles(string status) => status is "COMPLETE" or "ERROR" or "CANCELLED" or "DIED" or "TIMEOUT" or "IMPOSSIBLE";

    private void Publish(string id, string notice, bool settles)
    {
        foreach (var registration in _waiters.Keys)
        {
            registration.Offer(id, notice, settles);
        }
    }

    private void OnRestored(object? sender, ConnectionFailedEventArgs e)
    {
        _results.Clear();   // notifications may have been missed meanwhile
        Publish(Recheck, Recheck, settles: false);
    }

    public void Dispose()
    {
        _redis.ConnectionRestored -= OnRestored;
        try
        {
            if (_subscribed)
            {
                _redis.GetSubscriber().Unsubscribe(_channel);
            }
        }
        catch (RedisException)
        {
            // The connection is going away with us.
        }
        catch (ObjectDisposedException)
        {
            // Likewise.
        }
        _subscribeLock.Dispose();
    }

    /// <summary>
    /// One wait's feed of notices ("id STATUS", or <see cref="Recheck"/>). It keeps every notice until the wait says
    /// which ids it watches (<see cref="Watch"/>); from then on it keeps only theirs, and wakes the wait
    /// (<see cref="WaitAsync"/>) when the last of them settles or one needs a fresh look. Before reading statuses
    /// again, a wait calls <see cref="KeepAll"/>, so nothing published meanwhile is lost.
    /// </summary>
    public sealed class Registration(CompletionWaiter owner) : IDisposable
    {
        private readonly object _gate = new();
        private readonly SemaphoreSlim _signal = new(0, 1);
        private List<string> _notices = [];
        private HashSet<string>? _watched;   // null: keep every notice
        private bool _woken;
        private long _lastNotice = Environment.TickCount64;

        /// <summary>Milliseconds (<see cref="Environment.TickCount64"/>) of the last notice of any task that reached
        /// this feed, watched or not: a sign that the subscription is alive.</summary>
        public long LastNotice => Interlocked.Read(ref _lastNotice);

        /// <summary>How many notices have reached this feed, watched or not.</summary>
        public long Offered => Interlocked.Read(ref _offered);

        private long _offered;

        internal void Offer(string id, string notice, bool settles)
        {
            Interlocked.Exchange(ref _lastNotice, Environment.TickCount64);
            Interlocked.Increment(ref _offered);
            lock (_gate)
            {
                var recheck = ReferenceEquals(notice, Recheck);
                if (_watched is null)
                {
                    _notices.Add(notice);
                    return;
                }
                if (!recheck && !_watched.Remove(id))
                {
                    return;
                }
                _notices.Add(notice);
                if (recheck || !settles || _watched.Count == 0)
                {
                    Wake();
                }
            }
        }

        /// <summary>Keeps every notice from now on, until the next <see cref="Watch"/>.</summary>
        public void KeepAll()
        {
            lock (_gate)
            {
                _watched = null;
            }
        }

        /// <summary>Watches these ids (only): of the notices kept so far, those of other ids are dropped. Wakes the
        /// wait when any kept notice is left for it.</summary>
        public void Watch(IEnumerable<string> ids)
        {
            lock (_gate)
            {
                _watched = new HashSet<string>(ids, StringComparer.Ordinal);
                var kept = new List<string>();
                foreach (var notice in _notices)
                {
                    if (ReferenceEquals(notice, Recheck))
                    {
                        kept.Add(notice);
                        continue;
                    }
                    var space = notice.IndexOf(' ', StringComparison.Ordinal);
                    if (_watched.Remove(space < 0 ? notice : notice[..space]))
                    {
                        kept.Add(notice);
                    }
                }
                _notices = kept;
                if (kept.Count > 0)
                {
                    Wake();
                }
            }
        }

        /// <summary>The notices kept since the last call, oldest first.</summary>
        public List<string> Take()
        {
            lock (_gate)
            {
                var taken = _notices;
                _notices = [];
                _woken = false;
                return taken;
            }
        }

        /// <summary>Waits until woken (true) or for <paramref name="limit"/> (false).</summary>
        public Task<bool> WaitAsync(TimeSpan limit, CancellationToken cancellationToken) => _signal.WaitAsync(limit, cancellationToken);

        private void Wake()
        {
            if (!_woken)
            {
                _woken = true;
                if (_signal.CurrentCount == 0)
                {
                    _signal.Release();   // a SemaphoreSlim runs its waiter's continuation on the thread pool, not here
                }
            }
        }

        public void Dispose()
        {
            // The semaphore is not disposed: a notice being offered on the reader right now may still release it (with
            // no wait handle asked for, it holds nothing to free).
            owner._waiters.TryRemove(this, out _);
        }
    }
}
