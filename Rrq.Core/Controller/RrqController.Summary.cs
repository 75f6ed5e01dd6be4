namespace Rrq;

public sealed partial class RrqController
{
    /// <summary>The most failures <see cref="Summary"/> reads the status of to split them by kind; above it the split is of
    /// the newest this many (<see cref="RrqStatusCounts.FailedSplitExact"/> is false).</summary>
    public const int SummarySplitLimit = 20_000;

    /// <summary>How many exited or lost workers <see cref="Summary"/> lists at most (live ones are all listed).</summary>
    public const int SummaryGoneWorkers = 50;

    /// <summary>
    /// The queue at a glance (what <c>rrq-worker info</c> and the dashboard show): queues, workers, how many tasks are in
    /// each status, the newest failures with their expression and error, and tasks finished per minute. It reads the
    /// queue's indexes only, never every task: its cost grows with queues, workers and <paramref name="recentFailures"/>.
    /// </summary>
    /// <param name="recentFailures">How many of the newest failures to list (0 to 100).</param>
    /// <param name="minutes">How many minutes of throughput, the current one last (0 to 1440).</param>
    public RrqQueueSummary Summary(int recentFailures = 10, int minutes = 15) =>
        SummaryAsync(recentFailures, minutes).GetAwaiter().GetResult();

    /// <inheritdoc cref="Summary"/>
    public async Task<RrqQueueSummary> SummaryAsync(int recentFailures = 10, int minutes = 15, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ArgumentOutOfRangeException.ThrowIfNegative(recentFailures);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(recentFailures, 100);
        ArgumentOutOfRangeException.ThrowIfNegative(minutes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minutes, 1440);

        // 1. The sets whose size decides what to read next: queue names, workers, the server's clock.
        var indexes = await Queue.SummaryIndexesAsync(cancellationToken).ConfigureAwait(false);
        var (queueNames, liveIds, statusOf, now) = (indexes.QueueNames, indexes.Live, indexes.Statuses, indexes.Now);
        var workerIds = liveIds.Order(Workers.NaturalComparer.Instance)
            .Concat(statusOf.Keys.Where(w => !liveIds.Contains(w)).Order(Workers.NaturalComparer.Instance).Take(SummaryGoneWorkers))
            .ToArray();

        // 2. Everything sized: queue lengths, finished sets, failures, throughput, workers' info and heartbeats.
        var (lengths, delayed, idle, deferred, complete, failed, newest, done, infos, beats) =
            await Queue.SummarySizesAsync(indexes, workerIds, recentFailures, minutes, cancellationToken).ConfigureAwait(false);

        var queues = queueNames.Select((q, i) => new RrqQueueLength(q, Math.Max(0, lengths[i] - indexes.Skipped.GetValueOrDefault(q)), delayed[i], idle[i]))
            .ToArray();
        var tails = await WorkerLogTailAsync(workerIds, 1, cancellationToken).ConfigureAwait(false);
        var lastLog = tails.GroupBy(e => e.WorkerId, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Last(), StringComparer.Ordinal);
        var workers = workerIds.Select((w, i) => new RrqWorkerSummary(w,
            statusOf.TryGetValue(w, out var s) ? s : RrqWorkerStatus.Idle,
            liveIds.Contains(w) ? indexes.Held.GetValueOrDefault(w) ?? [] : [],
            infos[i] is { } info ? System.Text.Json.JsonSerializer.Deserialize<RrqWorkerInfo>(info, JsonOptions) : null,
            beats.GetValueOrDefault(w), lastLog.GetValueOrDefault(w))).ToArray();

        var (split, exact) = await FailureSplitAsync(failed, cancellationToken).ConfigureAwait(false);
        var counts = new RrqStatusCounts(queues.Sum(q => q.Pending + q.Delayed), deferred, workers.Sum(w => (long)w.Tasks.Count),
            complete, failed, split, exact);
        var failures = await RowsAsync(newest, describe: true, cancellationToken).ConfigureAwait(false);
        return new RrqQueueSummary(QueueId, now, queues, workers, counts, failures, done);
    }

    /// <summary>The failures split by status: every one when there are at most <see cref="SummarySplitLimit"/>, else the newest
    /// that many; read a thousand at a time, so no one command holds Redis for long.</summary>
    private async Task<(IReadOnlyDictionary<RrqTaskStatus, long>, bool)> FailureSplitAsync(long failed, CancellationToken cancellationToken)
    {
        var split = new[] { RrqTaskStatus.Error, RrqTaskStatus.Died, RrqTaskStatus.Timeout, RrqTaskStatus.Cancelled, RrqTaskStatus.Impossible }
            .ToDictionary(s => s, _ => 0L);
        var limit = Math.Min(failed, SummarySplitLimit);
        for (long at = 0; at < limit; at += 1000)
        {
            var stop = Math.Min(limit, at + 1000) - 1;
            var statuses = await Queue.FailedStatusesAsync(at, stop, cancellationToken).ConfigureAwait(false);
            foreach (var status in statuses)
            {
                if (split.TryGetValue(status, out var n))
                {
                    split[status] = n + 1;
                }
            }
            if (statuses.Length == 0)
            {
                break;
            }
        }
        return (split, failed <= SummarySplitLimit);
    }

    /// <summary>
    /// One page of the tasks in a group (the dashboard's task lists). Pages come from the queue's indexes (queue lists,
    /// finished sets, held lists), so a page costs the same on a queue of a hundred tasks or of a million; only
    /// <see cref="RrqTaskGroup.Deferred"/> walks its index up to the page asked for.
    /// </summary>
    /// <param name="group">Which tasks.</param>
    /// <param name="offset">How many to skip (0-based place of the first row).</param>
    /// <param name="count">How many rows at most (1 to 1000).</param>
    public RrqTaskPage TaskPage(RrqTaskGroup group, long offset = 0, int count = 50) =>
        TaskPageAsync(group, offset, count).GetAwaiter().GetResult();

    /// <inheritdoc cref="TaskPage"/>
    public async Task<RrqTaskPage> TaskPageAsync(RrqTaskGroup group, long offset = 0, int count = 50, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, 1000);
        var (total, ids) = group switch
        {
            RrqTaskGroup.Complete or RrqTaskGroup.Failed => await Queue.FinishedPageAsync(group == RrqTaskGroup.Complete, offset, count, cancellationToken)
                .ConfigureAwait(false),
            RrqTaskGroup.Running => RunningPage(await WorkerTaskIdsAsync(cancellationToken: cancellationToken).ConfigureAwait(false), offset, count),
            RrqTaskGroup.Pending => await PendingPageAsync(offset, count, cancellationToken).ConfigureAwait(false),
            RrqTaskGroup.Deferred => await DeferredPageAsync(offset, count, cancellationToken).ConfigureAwait(false),
            _ => throw new ArgumentOutOfRangeException(nameof(group), group, "Not a task group."),
        };
        return new RrqTaskPage(group, offset, total, await RowsAsync(ids, describe: false, cancellationToken).ConfigureAwait(false));
    }

    private static (long, string[]) RunningPage(IReadOnlyDictionary<string, IReadOnlyList<string>> held, long offset, int count)
    {
        var all = held.OrderBy(p => p.Key, Workers.NaturalComparer.Instance).SelectMany(p => p.Value).ToArray();
        return (all.Length, all.Skip((int)Math.Min(offset, all.Length)).Take(count).ToArray());
    }

    /// <summary>Queue lists by name, then delayed retries: each list read for the part of the page it holds. Ids left in a
    /// list by tasks taken out while queued are not shown (a page may have fewer rows than asked for).</summary>
    private async Task<(long, string[])> PendingPageAsync(long offset, int count, CancellationToken cancellationToken)
    {
        var names = (await QueueNamesAsync(cancellationToken).ConfigureAwait(false)).Append(Rrq.Keys.RrqKeys.DefaultQueue)
            .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        var (lengths, delayed, skipped) = await Queue.QueueLengthsAsync(names, cancellationToken).ConfigureAwait(false);
        var segments = names.Select((q, i) => (Queue: q, Delayed: false, Length: lengths[i]))
            .Concat(names.Select((q, i) => (Queue: q, Delayed: true, Length: delayed[i]))).ToArray();
        var ids = new List<string>();
        long start = 0, at = offset, left = count;
        foreach (var (queue, isDelayed, length) in segments)
        {
            if (left > 0 && at < start + length)
            {
                var from = at - start;
                var to = Math.Min(length, from + left) - 1;
                var got = await Queue.QueuedIdsAsync(queue, isDelayed, from, to, skipped > 0, cancellationToken).ConfigureAwait(false);
                ids.AddRange(got);
                at += to - from + 1;
                left -= to - from + 1;
            }
            start += length;
        }
        return (Math.Max(0, segments.Sum(s => s.Length) - skipped), [.. ids]);
    }

    private async Task<(long, string[])> DeferredPageAsync(long offset, int count, CancellationToken cancellationToken)
    {
        var total = await Queue.DeferredCountAsync(cancellationToken).ConfigureAwait(false);
        var ids = new List<string>(count);
        var cursor = 0L;
        var seen = 0L;
        do
        {
            var at = cursor;
            (cursor, var fields) = await Queue.HashScanFieldsAsync(Keys.TaskDependsLeft, at, 1000, cancellationToken)
                .WaitAsync(cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < fields.Length && ids.Count < count; i++, seen++)
            {
                if (seen >= offset)
                {
                    ids.Add(fields[i]);
                }
            }
        }
        while (cursor != 0 && ids.Count < count);
        return (total, [.. ids]);
    }

    /// <summary>The rows of the given tasks, in one round trip; with <paramref name="describe"/>, each failure's expression and
    /// error too (one more read of each task's payload and result: for short lists only).</summary>
    private async Task<IReadOnlyList<RrqTaskRow>> RowsAsync(string[] ids, bool describe, CancellationToken cancellationToken)
    {
        if (ids.Length == 0)
        {
            return [];
        }
        var rows = await Queue.TaskRowsAsync(ids, cancellationToken).ConfigureAwait(false);
        if (!describe)
        {
            return rows;
        }
        // Each row's reads are a few round trips; the rows go together.
        var expressions = ids.Select(id => ExpressionOrProblemAsync(id, cancellationToken)).ToArray();
        var errors = ids.Select(id => ErrorLineAsync(id, cancellationToken)).ToArray();
        await Task.WhenAll(expressions.Cast<Task>().Concat(errors)).ConfigureAwait(false);
        return rows.Select((r, i) => r with { Expression = expressions[i].Result, Error = errors[i].Result }).ToArray();
    }

    /// <summary>A task's expression, its first line shortened to 200 characters, or why it cannot be read.</summary>
    internal async Task<string> ExpressionOrProblemAsync(string id, CancellationToken cancellationToken)
    {
        try
        {
            var root = await RootAsync(id).ConfigureAwait(false);
            var raw = await Queue.TaskPayloadAsync(root, cancellationToken).ConfigureAwait(false);
            return raw is null ? "(no payload)" : Shorten(DecodePayload(raw).Expression, 200);
        }
        catch (RrqException e)
        {
            return $"(unreadable: {Shorten(e.Message, 200)})";
        }
    }

    private async Task<string?> ErrorLineAsync(string id, CancellationToken cancellationToken)
    {
        try
        {
            return await TaskResultAsync(id, follow: false, cancellationToken: cancellationToken).ConfigureAwait(false) is RrqTaskError e
                ? Shorten(e.Message, 300) : null;
        }
        catch (RrqException e)
        {
            return $"(unreadable: {Shorten(e.Message, 200)})";
        }
    }

    /// <summary>The first line of a text, cut to <paramref name="max"/> characters with an ellipsis.</summary>
    internal static string Shorten(string text, int max)
    {
        var line = text.AsSpan();
        var nl = line.IndexOfAny('\r', '\n');
        var cut = nl >= 0 ? line[..nl] : line;
        return cut.Length > max ? string.Concat(cut[..(max - 1)], "…") : nl >= 0 ? string.Concat(cut, " …") : cut.ToString();
    }
}
