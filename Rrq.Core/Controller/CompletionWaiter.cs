using System.Collections.Concurrent;
using System.Threading.Channels;
using StackExchange.Redis;

namespace Rrq.Controller;

/// <summary>
/// Wakes waiters when tasks finish. Finishing scripts publish the task id on one channel per
/// queue; each wait registers a channel of its own and gets every id published while it waits.
/// After a reconnect (when a publication may have been missed) every waiter is told to look again.
/// </summary>
internal sealed class CompletionWaiter : IDisposable
{
    public const string Recheck = "*";

    private readonly IConnectionMultiplexer _redis;
    private readonly RedisChannel _channel;
    private const int MaxResults = 1024;
    private readonly ConcurrentDictionary<Channel<string>, byte> _waiters = new();
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
                    await _redis.GetSubscriber().SubscribeAsync(_channel, (_, m) => OnMessage(m)).ConfigureAwait(false);
                    _subscribed = true;
                }
            }
            finally
            {
                _subscribeLock.Release();
            }
        }
        var ch = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
        _waiters[ch] = 0;
        return new Registration(this, ch);
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
            Publish(Recheck);
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
                        Publish(taskId + " " + parts[0]);
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
            Publish(head);
        }
    }

    private void Publish(string id)
    {
        foreach (var ch in _waiters.Keys)
        {
            ch.Writer.TryWrite(id);
        }
    }

    private void OnRestored(object? sender, ConnectionFailedEventArgs e)
    {
        _results.Clear();   // notifications may have been missed meanwhile
        Publish(Recheck);
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

    /// <summary>One wait's feed of finished task ids (or <see cref="Recheck"/>).</summary>
    public sealed class Registration(CompletionWaiter owner, Channel<string> channel) : IDisposable
    {
        public ChannelReader<string> Reader => channel.Reader;

        public void Dispose() => owner._waiters.TryRemove(channel, out _);
    }
}
