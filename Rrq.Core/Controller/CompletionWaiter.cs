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
    private readonly ConcurrentDictionary<Channel<string>, byte> _waiters = new();
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
                    await _redis.GetSubscriber().SubscribeAsync(_channel, (_, m) => Publish((string?)m ?? Recheck)).ConfigureAwait(false);
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

    private void Publish(string id)
    {
        foreach (var ch in _waiters.Keys)
        {
            ch.Writer.TryWrite(id);
        }
    }

    private void OnRestored(object? sender, ConnectionFailedEventArgs e) => Publish(Recheck);

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
