using System.Globalization;
using StackExchange.Redis;

namespace Rrq;

/// <summary>
/// How long a queue keeps finished tasks (see <see cref="RrqController.RetentionSet"/>): <c>null</c> keeps them until
/// they are deleted, which is the default.
/// </summary>
/// <param name="Complete">How long after it finished a COMPLETE task's chain is kept.</param>
/// <param name="Failed">How long after it finished a chain that ended ERROR, CANCELLED, DIED, TIMEOUT or IMPOSSIBLE is kept.</param>
public sealed record RrqRetention(TimeSpan? Complete, TimeSpan? Failed)
{
    /// <summary>Finished tasks are kept until deleted (rrq's behaviour).</summary>
    public static RrqRetention KeepAll { get; } = new(null, null);
}

public sealed partial class RrqController
{
    /// <summary>How many tasks a worker's sweep expires at most in one turn (the rest wait for its next turn).</summary>
    internal const int RetentionSweepMax = 2000;

    /// <summary>
    /// Sets how long this queue keeps finished tasks, with their values, errors, logs and times. A retry chain goes
    /// whole, <paramref name="complete"/> (or <paramref name="failed"/>) after its newest task finished; unfinished
    /// tasks are never touched, and workers' log lines older than the longer of the two go too. Workers with a
    /// heartbeat expire what is due, in turns, once per heartbeat period
    /// (<see cref="RetentionSweep"/> does it now). An expired task is MISSING to <c>TaskStatus</c>, but a task
    /// submitted later that depends on it counts it as what it was (COMPLETE, or failed: then it is IMPOSSIBLE), for
    /// as long again as it was kept. <c>null</c> keeps those tasks until they are deleted (the default, as in rrq).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A duration is zero or negative.</exception>
    public void RetentionSet(TimeSpan? complete, TimeSpan? failed) => RetentionSetAsync(complete, failed).GetAwaiter().GetResult();

    /// <inheritdoc cref="RetentionSet"/>
    public async Task RetentionSetAsync(TimeSpan? complete, TimeSpan? failed, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        foreach (var (value, name) in new[] { (complete, nameof(complete)), (failed, nameof(failed)) })
        {
            if (value is { } v && v <= TimeSpan.Zero)
            {
                throw new ArgumentOutOfRangeException(name, v, $"Retention '{name}' must be positive, or null to keep those tasks until they are deleted.");
            }
        }
        await Queue.RetentionSetAsync(complete, failed, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>This queue's retention (<see cref="RetentionSet"/>).</summary>
    public RrqRetention RetentionGet() => RetentionGetAsync().GetAwaiter().GetResult();

    /// <inheritdoc cref="RetentionGet"/>
    public async Task<RrqRetention> RetentionGetAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        var (complete, failed) = await Queue.RetentionFieldsAsync(cancellationToken).ConfigureAwait(false);
        static TimeSpan? Parse(string? s) => string.IsNullOrEmpty(s) ? null : TimeSpan.FromSeconds(double.Parse(s, CultureInfo.InvariantCulture));
        return new RrqRetention(Parse(complete), Parse(failed));
    }

    /// <summary>
    /// Expires now what this queue's retention says is due (workers do it on their own, once per heartbeat period),
    /// in slices of a few milliseconds of Redis each; returns how many tasks were deleted.
    /// </summary>
    public long RetentionSweep() => RetentionSweepAsync().GetAwaiter().GetResult();

    /// <inheritdoc cref="RetentionSweep"/>
    public Task<long> RetentionSweepAsync(CancellationToken cancellationToken = default) =>
        RetentionSweepAsync(long.MaxValue, cancellationToken);

    internal async Task<long> RetentionSweepAsync(long max, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        var retention = await RetentionGetAsync(cancellationToken).ConfigureAwait(false);
        long deleted = 0;
        if (retention.Complete is not null || retention.Failed is not null)
        {
            var now = await Queue.ServerTimeAsync(cancellationToken).ConfigureAwait(false);
            foreach (var (set, keep) in new[] { (Keys.DoneComplete, retention.Complete), (Keys.DoneFailed, retention.Failed) })
            {
                if (keep is { } k)
                {
                    deleted += await DeleteFinishedBeforeAsync(set, now - k, k, max - deleted, cancellationToken).ConfigureAwait(false);
                }
            }
            // Workers' logs keep a line or two per task: those older than the longer period go too.
            var longest = new[] { retention.Complete, retention.Failed }.Max()!.Value;
            var workers = await Queue.WorkersOnRecordAsync(cancellationToken).ConfigureAwait(false);
            foreach (var chunk in workers.Chunk(50))
            {
                while (await Queue.WorkerLogTrimAsync(chunk, now - longest, 1000, cancellationToken).ConfigureAwait(false) > 0 && max == long.MaxValue)
                {
                }
            }
        }
        while (await Queue.TombstoneDropAsync(1000, cancellationToken).ConfigureAwait(false) == 1000)
        {
        }
        return deleted;
    }

    /// <summary>
    /// Deletes the finished tasks (COMPLETE, ERROR, CANCELLED, DIED, TIMEOUT, IMPOSSIBLE) that finished before
    /// <paramref name="olderThan"/>, with their values, errors, logs and times: a whole retry chain when its newest
    /// task finished before then (a chain retried since is left alone). Unfinished tasks are never touched. It takes
    /// the oldest first, a page at a time, and deletes in slices, so Redis is never held long and the cost is that of
    /// what it deletes; interrupted, it has deleted whole chains only, and calling it again finishes the job.
    /// </summary>
    /// <returns>How many tasks were deleted.</returns>
    public long TaskDeleteFinished(DateTimeOffset olderThan) => TaskDeleteFinishedAsync(olderThan).GetAwaiter().GetResult();

    /// <inheritdoc cref="TaskDeleteFinished"/>
    public async Task<long> TaskDeleteFinishedAsync(DateTimeOffset olderThan, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        long deleted = 0;
        foreach (var set in new[] { Keys.DoneComplete, Keys.DoneFailed })
        {
            deleted += await DeleteFinishedBeforeAsync(set, olderThan, null, long.MaxValue, cancellationToken).ConfigureAwait(false);
        }
        return deleted;
    }

    /// <summary>Deletes the chains whose newest task is in <paramref name="set"/> (done:complete or done:failed) and
    /// finished before <paramref name="cutoff"/>, oldest first, at most about <paramref name="max"/> tasks; with
    /// <paramref name="tombstoneFor"/> (retention) each leaves a tombstone. A chain that changed under it (retried)
    /// ends this pass: the next one finds the set as it is then.</summary>
    private async Task<long> DeleteFinishedBeforeAsync(RedisKey set, DateTimeOffset cutoff, TimeSpan? tombstoneFor, long max,
        CancellationToken cancellationToken)
    {
        long deleted = 0;
        while (deleted < max)
        {
            var leaves = await Queue.FinishedBeforeAsync(set, cutoff, ScriptSlice / 2, cancellationToken).ConfigureAwait(false);
            if (leaves.Length == 0)
            {
                break;
            }
            var chains = await ChainsAsync(leaves).ConfigureAwait(false);
            var (n, refused) = await DeleteChainsAsync(chains, tombstoneFor ?? TimeSpan.Zero, "Expired tasks", cancellationToken).ConfigureAwait(false);
            deleted += n;
            if (refused is not null)
            {
                break;   // retried meanwhile
            }
        }
        return deleted;
    }
}
