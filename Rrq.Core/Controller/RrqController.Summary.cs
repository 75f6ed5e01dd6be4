using System.Globalization;
using Rrq.Controller;
using StackExchange.Redis;

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
        var (names, live, statuses, held, skipCounts, clock) = await Queue.RunAsync(async db =>
        {
            var batch = db.CreateBatch();
            var n = batch.SetMembersAsync(Keys.Queues);
            var l = batch.SetMembersAsync(Keys.WorkerId);
            var s = batch.HashGetAllAsync(Keys.WorkerStatus);
            var h = batch.HashGetAllAsync(Keys.WorkerTask);
            var k = batch.HashGetAllAsync(Keys.QueueSkipCount);
            var t = batch.ExecuteAsync("TIME");
            batch.Execute();
            return (await n.ConfigureAwait(false), await l.ConfigureAwait(false), await s.ConfigureAwait(false),
                await h.ConfigureAwait(false), await k.ConfigureAwait(false), await t.ConfigureAwait(false));
        }, cancellationToken).WaitAsync(cancellationToken).ConfigureAwait(false);
        var now = RedisTime.FromTimeReply(clock);

        var queueNames = names.Select(n => (string)n!).Append(Rrq.Keys.RrqKeys.DefaultQueue).Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal).ToArray();
        var liveIds = live.Select(w => (string)w!).ToHashSet(StringComparer.Ordinal);
        var statusOf = statuses.ToDictionary(e => (string)e.Name!, e => RrqWorkerStatusExtensions.ParseWorkerStatus((string)e.Value!), StringComparer.Ordinal);
        var heldOf = held.ToDictionary(e => (string)e.Name!, e => (IReadOnlyList<string>)Scripts.QueueContext.HeldIds((string?)e.Value), StringComparer.Ordinal);
        var skipOf = skipCounts.ToDictionary(e => (string)e.Name!, e => (long)e.Value, StringComparer.Ordinal);
        var workerIds = liveIds.Order(Workers.NaturalComparer.Instance)
            .Concat(statusOf.Keys.Where(w => !liveIds.Contains(w)).Order(Workers.NaturalComparer.Instance).Take(SummaryGoneWorkers))
            .ToArray();

        // 2. Everything sized: queue lengths, finished sets, failures, throughput, workers' info and heartbeats.
        var minuteStart = now.ToUnixTimeSeconds() / 60 * 60;
        var (lengths, delayed, idle, deferred, complete, failed, newest, done, infos, beats) = await Queue.RunAsync(async db =>
        {
            var batch = db.CreateBatch();
            var len = queueNames.Select(q => batch.ListLengthAsync(Keys.Queue(q))).ToArray();
            var del = queueNames.Select(q => batch.SortedSetLengthAsync(Keys.Delayed(q))).ToArray();
            var idl = queueNames.Select(q => batch.SetLengthAsync(Keys.Idle(q))).ToArray();
            var dfr = batch.HashLengthAsync(Keys.TaskDependsLeft);
            var cmp = batch.SortedSetLengthAsync(Keys.DoneComplete);
            var fld = batch.SortedSetLengthAsync(Keys.DoneFailed);
            var nw = batch.SortedSetRangeByRankAsync(Keys.DoneFailed, 0, recentFailures - 1, Order.Descending);
            var per = Enumerable.Range(0, minutes).Select(i => minuteStart - 60L * (minutes - 1 - i))
                .Select(m => (m, batch.SortedSetLengthAsync(Keys.DoneComplete, m, m + 60, Exclude.Stop),
                    batch.SortedSetLengthAsync(Keys.DoneFailed, m, m + 60, Exclude.Stop))).ToArray();
            var inf = batch.HashGetAsync(Keys.WorkerInfo, workerIds.Select(w => (RedisValue)w).ToArray());
            var liveArray = workerIds.Where(liveIds.Contains).ToArray();
            var hb = liveArray.Select(w => (w, batch.StringGetAsync(Keys.WorkerHeartbeat(w)), batch.KeyTimeToLiveAsync(Keys.WorkerHeartbeat(w)))).ToArray();
            batch.Execute();
            var perMinute = new List<RrqThroughputPoint>(minutes);
            foreach (var (m, c, f) in per)
            {
                perMinute.Add(new RrqThroughputPoint(DateTimeOffset.FromUnixTimeSeconds(m), await c.ConfigureAwait(false), await f.ConfigureAwait(false)));
            }
            var heartbeats = new Dictionary<string, TimeSpan?>(StringComparer.Ordinal);
            foreach (var (w, value, ttl) in hb)
            {
                var period = await value.ConfigureAwait(false);
                var left = await ttl.ConfigureAwait(false);
                // The key is set with its expiry as its value: the time since the last beat is the expiry less what is left.
                heartbeats[w] = long.TryParse((string?)period, NumberStyles.Integer, CultureInfo.InvariantCulture, out var ms) && left is { } l
                    ? TimeSpan.FromMilliseconds(Math.Max(0, ms - l.TotalMilliseconds)) : null;
            }
            return (await Task.WhenAll(len).ConfigureAwait(false), await Task.WhenAll(del).ConfigureAwait(false),
                await Task.WhenAll(idl).ConfigureAwait(false), await dfr.ConfigureAwait(false), await cmp.ConfigureAwait(false),
                await fld.ConfigureAwait(false), await nw.ConfigureAwait(false), perMinute, await inf.ConfigureAwait(false), heartbeats);
        }, cancellationToken).WaitAsync(cancellationToken).ConfigureAwait(false);

        var queues = queueNames.Select((q, i) => new RrqQueueLength(q, Math.Max(0, lengths[i] - skipOf.GetValueOrDefault(q)), delayed[i], idle[i]))
            .ToArray();
        var tails = await WorkerLogTailAsync(workerIds, 1, cancellationToken).ConfigureAwait(false);
        var lastLog = tails.GroupBy(e => e.WorkerId, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Last(), StringComparer.Ordinal);
        var workers = workerIds.Select((w, i) => new RrqWorkerSummary(w,
            statusOf.TryGetValue(w, out var s) ? s : RrqWorkerStatus.Idle,
            liveIds.Contains(w) ? heldOf.GetValueOrDefault(w) ?? [] : [],
            infos[i].IsNull ? null : System.Text.Json.JsonSerializer.Deserialize<RrqWorkerInfo>((string)infos[i]!, JsonOptions),
            beats.GetValueOrDefault(w), lastLog.GetValueOrDefault(w))).ToArray();

        var (split, exact) = await FailureSplitAsync(failed, cancellationToken).ConfigureAwait(false);
        var counts = new RrqStatusCounts(queues.Sum(q => q.Pending + q.Delayed), deferred, workers.Sum(w => (long)w.Tasks.Count),
            complete, failed, split, exact);
        var failures = await RowsAsync(newest.Select(v => (string)v!).ToArray(), describe: true, cancellationToken).ConfigureAwait(false);
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
            var statuses = await Queue.RunAsync(async db =>
            {
                var ids = await db.SortedSetRangeByRankAsync(Keys.DoneFailed, at, stop, Order.Descending).ConfigureAwait(false);
                return ids.Length == 0 ? [] : await db.HashGetAsync(Keys.TaskStatus, ids).ConfigureAwait(false);
            }, cancellationToken).WaitAsync(cancellationToken).ConfigureAwait(false);
            foreach (var s in statuses)
            {
                var status = RrqTaskStatusExtensions.ParseTaskStatus((string?)s);
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
            RrqTaskGroup.Complete or RrqTaskGroup.Failed => await FinishedPageAsync(group == RrqTaskGroup.Complete ? Keys.DoneComplete : Keys.DoneFailed,
                offset, count, cancellationToken).ConfigureAwait(false),
            RrqTaskGroup.Running => RunningPage(await WorkerTaskIdsAsync(cancellationToken: cancellationToken).ConfigureAwait(false), offset, count),
            RrqTaskGroup.Pending => await PendingPageAsync(offset, count, cancellationToken).ConfigureAwait(false),
            RrqTaskGroup.Deferred => await DeferredPageAsync(offset, count, cancellationToken).ConfigureAwait(false),
            _ => throw new ArgumentOutOfRangeException(nameof(group), group, "Not a task group."),
        };
        return new RrqTaskPage(group, offset, total, await RowsAsync(ids, describe: false, cancellationToken).ConfigureAwait(false));
    }

    private async Task<(long, string[])> FinishedPageAsync(RedisKey set, long offset, int count, CancellationToken cancellationToken) =>
        await Queue.RunAsync(async db =>
        {
            var batch = db.CreateBatch();
            var total = batch.SortedSetLengthAsync(set);
            var ids = batch.SortedSetRangeByRankAsync(set, offset, offset + count - 1, Order.Descending);
            batch.Execute();
            return (await total.ConfigureAwait(false), (await ids.ConfigureAwait(false)).Select(i => (string)i!).ToArray());
        }, cancellationToken).WaitAsync(cancellationToken).ConfigureAwait(false);

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
        var (lengths, delayed, skips) = await Queue.RunAsync(async db =>
        {
            var batch = db.CreateBatch();
            var len = names.Select(q => batch.ListLengthAsync(Keys.Queue(q))).ToArray();
            var del = names.Select(q => batch.SortedSetLengthAsync(Keys.Delayed(q))).ToArray();
            var skp = batch.HashGetAllAsync(Keys.QueueSkipCount);
            batch.Execute();
            return (await Task.WhenAll(len).ConfigureAwait(false), await Task.WhenAll(del).ConfigureAwait(false), await skp.ConfigureAwait(false));
        }, cancellationToken).WaitAsync(cancellationToken).ConfigureAwait(false);
        var segments = names.Select((q, i) => (Key: Keys.Queue(q), List: true, Length: lengths[i]))
            .Concat(names.Select((q, i) => (Key: Keys.Delayed(q), List: false, Length: delayed[i]))).ToArray();
        var skipped = skips.Sum(e => (long)e.Value);
        var ids = new List<string>();
        long start = 0, at = offset, left = count;
        foreach (var (key, list, length) in segments)
        {
            if (left > 0 && at < start + length)
            {
                var from = at - start;
                var to = Math.Min(length, from + left) - 1;
                var got = await Queue.RunAsync(async db =>
                {
                    var part = list ? await db.ListRangeAsync(key, from, to).ConfigureAwait(false)
                        : await db.SortedSetRangeByRankAsync(key, from, to).ConfigureAwait(false);
                    // Ids of tasks taken out while queued stay in the list until a claim drops them.
                    var skip = list && skipped > 0 && part.Length > 0 ? await db.SetContainsAsync(Keys.QueueSkip, part).ConfigureAwait(false) : null;
                    return part.Where((_, i) => skip is null || !skip[i]).Select(i => (string)i!).ToArray();
                }, cancellationToken).WaitAsync(cancellationToken).ConfigureAwait(false);
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
        var total = await Queue.RunAsync(db => db.HashLengthAsync(Keys.TaskDependsLeft), cancellationToken).WaitAsync(cancellationToken).ConfigureAwait(false);
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
        var fields = new[] { Keys.TaskStatus, Keys.TaskQueue, Keys.TaskWorker, Keys.TaskTimeSubmit, Keys.TaskTimeStart, Keys.TaskTimeComplete };
        var values = await Queue.RunAsync(async db =>
        {
            var batch = db.CreateBatch();
            var keys = ids.Select(i => (RedisValue)i).ToArray();
            var reads = fields.Select(f => batch.HashGetAsync(f, keys)).ToArray();
            batch.Execute();
            return await Task.WhenAll(reads).ConfigureAwait(false);
        }, cancellationToken).WaitAsync(cancellationToken).ConfigureAwait(false);
        var rows = ids.Select((id, i) => new RrqTaskRow(id, RrqTaskStatusExtensions.ParseTaskStatus((string?)values[0][i]),
            (string?)values[1][i], (string?)values[2][i], RedisTime.Parse(values[3][i]), RedisTime.Parse(values[4][i]),
            RedisTime.Parse(values[5][i]))).ToArray();
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
            var raw = await Queue.RunAsync(db => db.HashGetAsync(Keys.TaskExpr, root), cancellationToken).WaitAsync(cancellationToken).ConfigureAwait(false);
            return raw.IsNull ? "(no payload)" : Shorten(DecodePayload((byte[])raw!).Expression, 200);
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
