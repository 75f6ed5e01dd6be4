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
    private ChannelMessageQueue? _subscription;

    public CompletionWaiter(IConnectionMultiplexer redis, RedisChannel channel)
    {
        _redis = redis;
        _channel = channel;
        _redis.ConnectionRestored += OnRestored;
    }

    /// <summary>Starts listening (once); call before reading the statuses being waited on.</summary>
    public async Task<Registration> RegisterAsync()
    {
        if (_subscription is null)
        {
            await _subscribeLock.WaitAsync().ConfigureAwait(false);
            try
            {
                if (_subscription is null)
                {
                    var sub = await _redis.GetSubscriber().SubscribeAsync(_channel).ConfigureAwait(false);
                    sub.OnMessage(m => Publish((string?)m.Message ?? Recheck));
                    _subscription = sub;
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
            _subscription?.Unsubscribe();
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
