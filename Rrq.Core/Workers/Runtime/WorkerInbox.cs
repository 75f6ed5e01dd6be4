using System.Collections.Concurrent;
using StackExchange.Redis;

namespace Rrq.Workers;

/// <summary>
/// How a worker learns there is something to do. It listens on its queues' channels (a task submitted), its own
/// channel (a message, a cancel, a task handed to it at submission) and the channel to all workers; a notice wakes one
/// waiting slot. A slot with nothing to do waits here up to the poll time, or until the next delayed task of its
/// queues comes due, whichever is sooner.
/// </summary>
internal sealed class WorkerInbox(RrqController controller, WorkerSlot[] slots, TimeProvider time) : IDisposable
{
    /// <summary>Released to wake a slot waiting for work (at most one count per slot).</summary>
    private readonly SemaphoreSlim _wake = new(0, slots.Length);
    private readonly List<RedisChannel> _channels = [];

    /// <summary>Tasks handed to this worker at submission (include/handoff.lua), as their messages came, for a free slot to
    /// take up. Taking one up (task_ack.lua) fails when the worker's own claim took the task first, or it was cancelled
    /// or deleted meanwhile: the ack, not the worker, decides, so a message that comes late runs nothing twice.</summary>
    private readonly ConcurrentQueue<Handoff> _handoffs = new();

    private long _nextDueMs = long.MinValue;

    /// <summary>When the next delayed task of the worker's queues comes due, as its last claim said (null: none).</summary>
    public DateTimeOffset? NextDue
    {
        get => Interlocked.Read(ref _nextDueMs) is var ms && ms == long.MinValue ? null : DateTimeOffset.FromUnixTimeMilliseconds(ms);
        set => Interlocked.Exchange(ref _nextDueMs, value?.ToUnixTimeMilliseconds() ?? long.MinValue);
    }

    /// <summary>Listens on the worker's channels.</summary>
    public async Task SubscribeAsync(string workerId, IEnumerable<string> queues)
    {
        var k = controller.Keys;
        var sub = controller.Redis.GetSubscriber();
        _channels.AddRange([.. queues.Select(k.QueueChannel), k.WorkerChannel(workerId), k.WorkersChannel]);
        foreach (var ch in _channels)
        {
            await sub.SubscribeAsync(ch, (_, message) => OnNotice(message)).ConfigureAwait(false);
        }
    }

    /// <summary>Stops listening (the worker is leaving).</summary>
    public async Task UnsubscribeAsync()
    {
        var sub = controller.Redis.GetSubscriber();
        foreach (var ch in _channels)
        {
            await sub.UnsubscribeAsync(ch).ConfigureAwait(false);
        }
    }

    /// <summary>A task handed over at submission, not yet taken up by a slot.</summary>
    public bool TryTakeHandoff(out Handoff handoff) => _handoffs.TryDequeue(out handoff!);

    private void OnNotice(RedisValue message)
    {
        if (Handoff.TryParse(message) is { } handoff)
        {
            _handoffs.Enqueue(handoff);
            Wake();
            return;
        }
        var text = (string?)message;
        if (text is not null && text.StartsWith("cancel ", StringComparison.Ordinal))
        {
            foreach (var slot in slots)
            {
                if (slot.SeparateTask == text[7..])
                {
                    slot.CancelSignal.TrySetResult();
                }
            }
        }
        Wake();
    }

    /// <summary>Wakes one slot waiting for work.</summary>
    public void Wake()
    {
        try
        {
            _wake.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already signalled.
        }
        catch (ObjectDisposedException)
        {
            // Stopped.
        }
    }

    /// <summary>Wakes every slot waiting for work (to stop, or to look again).</summary>
    public void WakeAll()
    {
        for (var i = 0; i < slots.Length; i++)
        {
            Wake();
        }
    }

    /// <summary>Takes a wake-up left for a slot about to claim anyway.</summary>
    public void TakeWake() => _wake.Wait(0, CancellationToken.None);

    /// <summary>Waits to be woken, no longer than <paramref name="poll"/>, or until the next delayed task comes due, on the
    /// worker's clock.</summary>
    public async Task WaitAsync(TimeSpan poll, CancellationToken cancellationToken)
    {
        var wait = poll;
        if (NextDue is { } due && due - time.GetUtcNow() < wait)
        {
            wait = due - time.GetUtcNow() is var left && left > TimeSpan.Zero ? left : TimeSpan.Zero;
        }
        if (time == TimeProvider.System)
        {
            await _wake.WaitAsync(wait, cancellationToken).ConfigureAwait(false);
            return;
        }
        // Another clock (a test's): its timer ends the wait.
        using var elapsed = new CancellationTokenSource(wait, time);
        using var either = CancellationTokenSource.CreateLinkedTokenSource(elapsed.Token, cancellationToken);
        try
        {
            await _wake.WaitAsync(either.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (elapsed.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
        }
    }

    public void Dispose() => _wake.Dispose();
}
