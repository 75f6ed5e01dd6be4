using System.Collections.Concurrent;
using Rrq.Scripts;

namespace Rrq.Workers;

/// <summary>
/// The worker's side of the claim protocol (include/claim.lua), for all its slots.
/// </summary>
/// <remarks>
/// <para><b>Tokens.</b> Each claim carries a token no other claim of any worker uses (a random prefix and a count); the
/// task it takes is written under that token, and its outcome is recorded only under it, so a claim sent twice (a lost
/// reply) takes nothing twice and a stale outcome is dropped. A token is live from its making until its claim has
/// taken nothing or its task is recorded.</para>
/// <para><b>Several slots.</b> A claim takes one task for its own slot and one for each other slot that is free (not
/// running a task, not reserved by a claim in flight, not served by a task already handed over). Those free slots are
/// reserved until the reply comes; the extra tasks are then handed to them, each under a token of its own. The claim
/// also sends the live tokens and the count so far (its horizon): the script gives back a task held under a token of
/// this worker that is no longer live (a slot's claim whose reply was lost).</para>
/// </remarks>
internal sealed class ClaimBook(WorkerSlot[] slots)
{
    private readonly string _prefix = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(6));
    private readonly ConcurrentDictionary<string, byte> _live = new(StringComparer.Ordinal);

    /// <summary>Held while a token is made, while a claim's argument is written (with its reservation), and while a
    /// reservation is given back: so a claim's list of live tokens and its horizon agree.</summary>
    private readonly Lock _gate = new();
    private long _count;
    private int _active;
    private int _reserved;

    /// <summary>Tasks a claim took for the worker's other free slots, with their claim tokens: taken (RUNNING on this
    /// worker) and not started. A free slot runs one before it claims; a worker that leaves puts them back.</summary>
    public ConcurrentQueue<(ClaimReply Reply, string Token)> Handed { get; } = new();

    /// <summary>How many slots run a task (or hold one to run next).</summary>
    public int Active => Volatile.Read(ref _active);

    /// <summary>A new token, live from now.</summary>
    public string NewToken()
    {
        lock (_gate)
        {
            var token = $"{_prefix}.{++_count}";
            _live.TryAdd(token, 0);
            return token;
        }
    }

    /// <summary>A token whose claim took nothing, or whose task is recorded: no longer live.</summary>
    public void Forget(string? token)
    {
        if (token is not null)
        {
            _live.TryRemove(token, out _);
        }
    }

    /// <summary>What a claim for <paramref name="slot"/> tells include/claim.lua about the worker's other slots ("" for a
    /// worker of one slot; null when no claim is needed: another slot's claim in flight takes a task for this one too),
    /// and how many free slots it reserved (give them back with <see cref="Unreserve"/> once the reply is in).</summary>
    public (string? Argument, int Reserved) SlotsArgument(WorkerSlot slot)
    {
        if (slots.Length == 1)
        {
            return ("", 0);
        }
        lock (_gate)
        {
            var free = slots.Length - Volatile.Read(ref _active) - _reserved - Handed.Count;
            if (!slot.Active && free <= 0)
            {
                return (null, 0);
            }
            var count = slot.Active ? 1 + Math.Max(0, free) : Math.Max(1, free);
            var reserved = count - (slot.Active ? 1 : 0);
            _reserved += reserved;
            var full = free - reserved <= 0 ? 1 : 0;
            // Read together with the live tokens: a token made after this (numbered above the horizon) is live whatever the list says.
            return ($"{slot.ClaimField} {count} {full} {_count} {string.Join(' ', _live.Keys)}", reserved);
        }
    }

    /// <summary>Gives back what a claim reserved, once its tasks are the slot's or handed over.</summary>
    public void Unreserve(int reserved)
    {
        if (reserved != 0)
        {
            lock (_gate)
            {
                _reserved -= reserved;
            }
        }
    }

    /// <summary>Counts <paramref name="slot"/> among the busy slots, or no longer.</summary>
    public void SetActive(WorkerSlot slot, bool active)
    {
        if (slot.Active != active)
        {
            slot.Active = active;
            Interlocked.Add(ref _active, active ? 1 : -1);
        }
    }

    /// <summary>The claiming slot's part of a claim's reply; the other tasks it took are handed to free slots, each under
    /// a token of its own, and <paramref name="wake"/> is called for each.</summary>
    public ClaimReply KeepFirst(ClaimReply reply, string token, Action wake)
    {
        if (reply.More.Count == 0)
        {
            return reply;
        }
        var n = 2;
        foreach (var task in reply.More)
        {
            var mine = $"{token}+{n++}";
            _live.TryAdd(mine, 0);
            Handed.Enqueue((ClaimReply.ForTask(reply.EnvirVersion, task), mine));
            wake();
        }
        return reply with { More = [] };
    }

    /// <summary>The tasks taken for the slots and not started (with their last tasks' outcomes, or for a free slot), taken
    /// out of the book: a worker that leaves gives them back to their queues.</summary>
    public string[] TakeNotStarted()
    {
        var taken = slots.Select(slot => Interlocked.Exchange(ref slot.Next, null)).ToList();
        while (Handed.TryDequeue(out var handed))
        {
            taken.Add(handed.Reply);
        }
        return [.. taken.Where(t => t?.Kind == ClaimKind.Task).Select(t => t!.Task!.Id)];
    }
}
