using System.Globalization;
using Rrq.Controller;
using StackExchange.Redis;

namespace Rrq.Scripts;

/// <summary>What a summary reads first, to size what it reads next: the queues' names (the default one included, sorted),
/// the live workers, every worker's status and held tasks, the ids left in queue lists per queue, and the server's clock.</summary>
internal sealed record SummaryIndexes(string[] QueueNames, IReadOnlySet<string> Live, IReadOnlyDictionary<string, RrqWorkerStatus> Statuses,
    IReadOnlyDictionary<string, IReadOnlyList<string>> Held, IReadOnlyDictionary<string, long> Skipped, DateTimeOffset Now);

/// <summary>A summary's sized reads: per queue (in <see cref="SummaryIndexes.QueueNames"/>' order) its list's length, its
/// delayed tasks and idle workers; how many tasks are deferred, complete and failed; the newest failures' ids; tasks
/// finished per minute; each worker's info (JSON, null when none) and the time since its last heartbeat.</summary>
internal sealed record SummarySizes(long[] Lengths, long[] Delayed, long[] Idle, long Deferred, long Complete, long Failed, string[] NewestFailures,
    IReadOnlyList<RrqThroughputPoint> PerMinute, string?[] Infos, IReadOnlyDictionary<string, TimeSpan?> Heartbeats);

/// <summary>A field of a task the controller reads: each is a hash keyed by task id (see <see cref="Rrq.Keys.RrqKeys"/>).</summary>
internal enum TaskField { Status, Queue, Local, Worker, DependsUp, MovedTo, MovedFrom, MovedRoot, Expired }

/// <summary>
/// The plain reads the controller makes of a queue's indexes (the overview, task pages, task rows), by name: the key
/// layout stays here beside the scripts, and every read goes through the retry layer. Each batch is one round trip.
/// </summary>
internal sealed partial class QueueContext
{
    /// <summary>The first round of <see cref="RrqController.Summary"/>.</summary>
    public Task<SummaryIndexes> SummaryIndexesAsync(CancellationToken cancellationToken) => RunAsync(async db =>
    {
        var batch = db.CreateBatch();
        var n = batch.SetMembersAsync(Keys.Queues);
        var l = batch.SetMembersAsync(Keys.WorkerId);
        var s = batch.HashGetAllAsync(Keys.WorkerStatus);
        var h = batch.HashGetAllAsync(Keys.WorkerTask);
        var k = batch.HashGetAllAsync(Keys.QueueSkipCount);
        var t = batch.ExecuteAsync("TIME");
        batch.Execute();
        var names = (await n.ConfigureAwait(false)).Select(v => (string)v!).Append(Rrq.Keys.RrqKeys.DefaultQueue).Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal).ToArray();
        return new SummaryIndexes(names, (await l.ConfigureAwait(false)).Select(w => (string)w!).ToHashSet(StringComparer.Ordinal),
            (await s.ConfigureAwait(false)).ToDictionary(e => (string)e.Name!, e => RrqWorkerStatusExtensions.ParseWorkerStatus((string)e.Value!), StringComparer.Ordinal),
            (await h.ConfigureAwait(false)).ToDictionary(e => (string)e.Name!, e => (IReadOnlyList<string>)HeldIds((string?)e.Value), StringComparer.Ordinal),
            (await k.ConfigureAwait(false)).ToDictionary(e => (string)e.Name!, e => (long)e.Value, StringComparer.Ordinal),
            RedisTime.FromTimeReply(await t.ConfigureAwait(false)));
    }, cancellationToken).WaitAsync(cancellationToken);

    /// <summary>The second round of <see cref="RrqController.Summary"/>: <paramref name="minutes"/> minutes of throughput up
    /// to the one holding the server's time in <paramref name="indexes"/>, the <paramref name="recentFailures"/> newest
    /// failures, and the info of <paramref name="workerIds"/> (heartbeats of the live ones).</summary>
    public Task<SummarySizes> SummarySizesAsync(SummaryIndexes indexes, IReadOnlyList<string> workerIds, int recentFailures, int minutes,
        CancellationToken cancellationToken) => RunAsync(async db =>
    {
        var minuteStart = indexes.Now.ToUnixTimeSeconds() / 60 * 60;
        var batch = db.CreateBatch();
        var len = indexes.QueueNames.Select(q => batch.ListLengthAsync(Keys.Queue(q))).ToArray();
        var del = indexes.QueueNames.Select(q => batch.SortedSetLengthAsync(Keys.Delayed(q))).ToArray();
        var idl = indexes.QueueNames.Select(q => batch.SetLengthAsync(Keys.Idle(q))).ToArray();
        var dfr = batch.HashLengthAsync(Keys.TaskDependsLeft);
        var cmp = batch.SortedSetLengthAsync(Keys.DoneComplete);
        var fld = batch.SortedSetLengthAsync(Keys.DoneFailed);
        var nw = batch.SortedSetRangeByRankAsync(Keys.DoneFailed, 0, recentFailures - 1, Order.Descending);
        var per = Enumerable.Range(0, minutes).Select(i => minuteStart - 60L * (minutes - 1 - i))
            .Select(m => (m, batch.SortedSetLengthAsync(Keys.DoneComplete, m, m + 60, Exclude.Stop),
                batch.SortedSetLengthAsync(Keys.DoneFailed, m, m + 60, Exclude.Stop))).ToArray();
        var inf = batch.HashGetAsync(Keys.WorkerInfo, workerIds.Select(w => (RedisValue)w).ToArray());
        var hb = workerIds.Where(indexes.Live.Contains)
            .Select(w => (w, batch.StringGetAsync(Keys.WorkerHeartbeat(w)), batch.KeyTimeToLiveAsync(Keys.WorkerHeartbeat(w)))).ToArray();
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
        return new SummarySizes(await Task.WhenAll(len).ConfigureAwait(false), await Task.WhenAll(del).ConfigureAwait(false),
            await Task.WhenAll(idl).ConfigureAwait(false), await dfr.ConfigureAwait(false), await cmp.ConfigureAwait(false),
            await fld.ConfigureAwait(false), [.. (await nw.ConfigureAwait(false)).Select(v => (string)v!)], perMinute,
            [.. (await inf.ConfigureAwait(false)).Select(v => (string?)v)], heartbeats);
    }, cancellationToken).WaitAsync(cancellationToken);

    /// <summary>The statuses of the failed tasks ranked <paramref name="from"/> to <paramref name="to"/>, newest first (empty
    /// past the last).</summary>
    public Task<RrqTaskStatus[]> FailedStatusesAsync(long from, long to, CancellationToken cancellationToken) => RunAsync(async db =>
    {
        var ids = await db.SortedSetRangeByRankAsync(Keys.DoneFailed, from, to, Order.Descending).ConfigureAwait(false);
        return ids.Length == 0 ? [] : (await db.HashGetAsync(Keys.TaskStatus, ids).ConfigureAwait(false))
            .Select(s => RrqTaskStatusExtensions.ParseTaskStatus((string?)s)).ToArray();
    }, cancellationToken).WaitAsync(cancellationToken);

    /// <summary>How many tasks finished COMPLETE (or failed), and the ids of one page of them, newest first.</summary>
    public Task<(long Total, string[] Ids)> FinishedPageAsync(bool complete, long offset, int count, CancellationToken cancellationToken) =>
        RunAsync(async db =>
        {
            var set = complete ? Keys.DoneComplete : Keys.DoneFailed;
            var batch = db.CreateBatch();
            var total = batch.SortedSetLengthAsync(set);
            var ids = batch.SortedSetRangeByRankAsync(set, offset, offset + count - 1, Order.Descending);
            batch.Execute();
            return (await total.ConfigureAwait(false), (await ids.ConfigureAwait(false)).Select(i => (string)i!).ToArray());
        }, cancellationToken).WaitAsync(cancellationToken);

    /// <summary>For each of <paramref name="queues"/>, its list's length and its delayed tasks; and how many ids left in
    /// queue lists (of tasks taken out while queued) wait to be dropped, in all.</summary>
    public Task<(long[] Lengths, long[] Delayed, long Skipped)> QueueLengthsAsync(IReadOnlyList<string> queues, CancellationToken cancellationToken) =>
        RunAsync(async db =>
        {
            var batch = db.CreateBatch();
            var len = queues.Select(q => batch.ListLengthAsync(Keys.Queue(q))).ToArray();
            var del = queues.Select(q => batch.SortedSetLengthAsync(Keys.Delayed(q))).ToArray();
            var skp = batch.HashGetAllAsync(Keys.QueueSkipCount);
            batch.Execute();
            return (await Task.WhenAll(len).ConfigureAwait(false), await Task.WhenAll(del).ConfigureAwait(false),
                (await skp.ConfigureAwait(false)).Sum(e => (long)e.Value));
        }, cancellationToken).WaitAsync(cancellationToken);

    /// <summary>The ids at places <paramref name="from"/> to <paramref name="to"/> of a queue's list (or, with
    /// <paramref name="delayed"/>, of its delayed tasks, soonest first), without the ids left there by tasks taken out while
    /// queued (looked up when <paramref name="anySkipped"/>).</summary>
    public Task<string[]> QueuedIdsAsync(string queue, bool delayed, long from, long to, bool anySkipped, CancellationToken cancellationToken) =>
        RunAsync(async db =>
        {
            var part = delayed ? await db.SortedSetRangeByRankAsync(Keys.Delayed(queue), from, to).ConfigureAwait(false)
                : await db.ListRangeAsync(Keys.Queue(queue), from, to).ConfigureAwait(false);
            // Ids of tasks taken out while queued stay in the list until a claim drops them.
            var skip = !delayed && anySkipped && part.Length > 0 ? await db.SetContainsAsync(Keys.QueueSkip, part).ConfigureAwait(false) : null;
            return part.Where((_, i) => skip is null || !skip[i]).Select(i => (string)i!).ToArray();
        }, cancellationToken).WaitAsync(cancellationToken);

    /// <summary>How many tasks are DEFERRED (waiting for dependencies).</summary>
    public Task<long> DeferredCountAsync(CancellationToken cancellationToken) =>
        RunAsync(db => db.HashLengthAsync(Keys.TaskDependsLeft), cancellationToken).WaitAsync(cancellationToken);

    /// <summary>The rows of the given tasks (status, queue, worker, times), in one round trip.</summary>
    public Task<RrqTaskRow[]> TaskRowsAsync(string[] ids, CancellationToken cancellationToken) => RunAsync(async db =>
    {
        var fields = new[] { Keys.TaskStatus, Keys.TaskQueue, Keys.TaskWorker, Keys.TaskTimeSubmit, Keys.TaskTimeStart, Keys.TaskTimeComplete };
        var batch = db.CreateBatch();
        var keys = ids.Select(i => (RedisValue)i).ToArray();
        var reads = fields.Select(f => batch.HashGetAsync(f, keys)).ToArray();
        batch.Execute();
        var values = await Task.WhenAll(reads).ConfigureAwait(false);
        return ids.Select((id, i) => new RrqTaskRow(id, RrqTaskStatusExtensions.ParseTaskStatus((string?)values[0][i]),
            (string?)values[1][i], (string?)values[2][i], RedisTime.Parse(values[3][i]), RedisTime.Parse(values[4][i]),
            RedisTime.Parse(values[5][i]))).ToArray();
    }, cancellationToken).WaitAsync(cancellationToken);

    /// <summary>A task's stored payload (MemoryPack), by its retry chain's root id; null when there is none.</summary>
    public async Task<byte[]?> TaskPayloadAsync(string rootId, CancellationToken cancellationToken) =>
        (byte[]?)await RunAsync(db => db.HashGetAsync(Keys.TaskExpr, rootId), cancellationToken).WaitAsync(cancellationToken).ConfigureAwait(false);

    private RedisKey KeyOf(TaskField field) => field switch
    {
        TaskField.Status => Keys.TaskStatus,
        TaskField.Queue => Keys.TaskQueue,
        TaskField.Local => Keys.TaskLocal,
        TaskField.Worker => Keys.TaskWorker,
        TaskField.DependsUp => Keys.TaskDependsUp,
        TaskField.MovedTo => Keys.TaskMovedTo,
        TaskField.MovedFrom => Keys.TaskMovedFrom,
        TaskField.MovedRoot => Keys.TaskMovedRoot,
        TaskField.Expired => Keys.Expired,
        _ => throw new ArgumentOutOfRangeException(nameof(field), field, null),
    };

    /// <summary>One field of each of <paramref name="ids"/>, in their order (null where a task has none), in one command.</summary>
    public async Task<string?[]> TaskFieldAsync(TaskField field, IReadOnlyList<string> ids, CancellationToken cancellationToken = default) =>
        ids.Count == 0 ? [] : [.. (await RunAsync(db => db.HashGetAsync(KeyOf(field), [.. ids.Select(i => (RedisValue)i)]), cancellationToken)
            .WaitAsync(cancellationToken).ConfigureAwait(false)).Select(v => (string?)v)];

    /// <summary>One field of one task (null when it has none).</summary>
    public async Task<string?> TaskFieldAsync(TaskField field, string id, CancellationToken cancellationToken = default) =>
        (string?)await RunAsync(db => db.HashGetAsync(KeyOf(field), id), cancellationToken).WaitAsync(cancellationToken).ConfigureAwait(false);

    /// <summary>The stored status of each of <paramref name="workerIds"/> (null: never registered).</summary>
    public async Task<string?[]> WorkerStatusFieldsAsync(IReadOnlyList<string> workerIds, CancellationToken cancellationToken) =>
        [.. (await RunAsync(db => db.HashGetAsync(Keys.WorkerStatus, [.. workerIds.Select(i => (RedisValue)i)]), cancellationToken)
            .WaitAsync(cancellationToken).ConfigureAwait(false)).Select(v => (string?)v)];

    /// <summary>How many tasks wait in <paramref name="queue"/>'s list (ids left there by tasks taken out while queued,
    /// which a claim drops when it reaches them, not counted).</summary>
    public Task<long> QueueLengthAsync(string queue, CancellationToken cancellationToken) => RunAsync(async db =>
    {
        var batch = db.CreateBatch();
        var length = batch.ListLengthAsync(Keys.Queue(queue));
        var skipped = batch.HashGetAsync(Keys.QueueSkipCount, queue);
        batch.Execute();
        var n = await length.ConfigureAwait(false) - (await skipped.ConfigureAwait(false) is { IsNull: false } s ? (long)s : 0);
        return Math.Max(0, n);
    }, cancellationToken).WaitAsync(cancellationToken);

    /// <summary>The ids waiting in <paramref name="queue"/>'s list, next first, without those of tasks taken out while queued.</summary>
    public async Task<string[]> QueuedAsync(string queue, CancellationToken cancellationToken)
    {
        var ids = await RunAsync(db => db.ListRangeAsync(Keys.Queue(queue)), cancellationToken).WaitAsync(cancellationToken).ConfigureAwait(false);
        if (ids.Length == 0)
        {
            return [];
        }
        var skipped = await RunAsync(db => db.SetContainsAsync(Keys.QueueSkip, ids), cancellationToken).WaitAsync(cancellationToken).ConfigureAwait(false);
        return [.. ids.Where((_, i) => !skipped[i]).Select(i => (string)i!)];
    }

    /// <summary>The names of every queue tasks have been submitted to, unordered.</summary>
    public async Task<string[]> QueueNamesAsync(CancellationToken cancellationToken = default) =>
        Strings(await RunAsync(db => db.SetMembersAsync(Keys.Queues), cancellationToken).WaitAsync(cancellationToken).ConfigureAwait(false));

    /// <summary>Every task's status, by id (a read of the whole status hash: for the calls that report on every task).</summary>
    public async Task<Dictionary<string, RrqTaskStatus>> AllStatusesAsync(CancellationToken cancellationToken) =>
        (await RunAsync(db => db.HashGetAllAsync(Keys.TaskStatus), cancellationToken).WaitAsync(cancellationToken).ConfigureAwait(false))
            .ToDictionary(e => (string)e.Name!, e => RrqTaskStatusExtensions.ParseTaskStatus((string?)e.Value), StringComparer.Ordinal);

    /// <summary>Every task's status, without the ids (the whole status hash's values).</summary>
    public async Task<RrqTaskStatus[]> StatusValuesAsync(CancellationToken cancellationToken) =>
        [.. (await RunAsync(db => db.HashValuesAsync(Keys.TaskStatus), cancellationToken).WaitAsync(cancellationToken).ConfigureAwait(false))
            .Select(v => RrqTaskStatusExtensions.ParseTaskStatus((string?)v))];

    /// <summary>Every task id of the queue (those with a payload), unordered.</summary>
    public async Task<string[]> TaskIdsAsync(CancellationToken cancellationToken) =>
        Strings(await RunAsync(db => db.HashKeysAsync(Keys.TaskExpr), cancellationToken).WaitAsync(cancellationToken).ConfigureAwait(false));

    /// <summary>The tasks whose linking to their dependencies is unfinished (their submitter died on the way).</summary>
    public async Task<string[]> LinkingIdsAsync(CancellationToken cancellationToken) =>
        Strings(await RunAsync(db => db.HashKeysAsync(Keys.Linking), cancellationToken).WaitAsync(cancellationToken).ConfigureAwait(false));

    /// <summary>A separate-process task's log, line by line.</summary>
    public async Task<string[]> TaskLogLinesAsync(string taskId, CancellationToken cancellationToken) =>
        Strings(await RunAsync(db => db.ListRangeAsync(Keys.TaskLog(taskId)), cancellationToken).WaitAsync(cancellationToken).ConfigureAwait(false));

    /// <summary>Shared locals of a bulk submission (MemoryPack), or null when they are gone.</summary>
    public async Task<byte[]?> SharedLocalsAsync(string sharedId) =>
        (byte[]?)await RunAsync(db => db.HashGetAsync(Keys.Shared, sharedId)).ConfigureAwait(false);

    /// <summary>The queue's retention periods as stored (seconds as text; null or empty: none), complete then failed.</summary>
    public async Task<(string? Complete, string? Failed)> RetentionFieldsAsync(CancellationToken cancellationToken)
    {
        var v = await RunAsync(db => db.HashGetAsync(Keys.Retention, ["complete", "failed"]), cancellationToken).WaitAsync(cancellationToken).ConfigureAwait(false);
        return ((string?)v[0], (string?)v[1]);
    }

    /// <summary>Every worker on record (live or not, by status), unordered.</summary>
    public async Task<string[]> WorkersOnRecordAsync(CancellationToken cancellationToken) =>
        Strings(await RunAsync(db => db.HashKeysAsync(Keys.WorkerStatus), cancellationToken).WaitAsync(cancellationToken).ConfigureAwait(false));

    /// <summary>The worker environment as stored: its version and its spec (JSON), each null when there is none.</summary>
    public async Task<(string? Version, string? Spec)> EnvirFieldsAsync(CancellationToken cancellationToken)
    {
        var v = await RunAsync(db => db.HashGetAsync(Keys.Envir, ["version", "spec"]), cancellationToken).WaitAsync(cancellationToken).ConfigureAwait(false);
        return ((string?)v[0], (string?)v[1]);
    }

    /// <summary>Where this queue's large values are kept, as a process that has the folder said (null: none said).</summary>
    public async Task<string?> OffloadPathAsync() => (string?)await RunAsync(db => db.StringGetAsync(Keys.OffloadPath)).ConfigureAwait(false);


    /// <summary>Each of <paramref name="hashes"/> (hashes keyed by task id) read for <paramref name="ids"/>, in one round
    /// trip: one array per hash, in the order of <paramref name="ids"/>.</summary>
    public Task<RedisValue[][]> TaskHashesAsync(IReadOnlyList<RedisKey> hashes, RedisValue[] ids, CancellationToken cancellationToken = default) =>
        RunAsync(db =>
        {
            var batch = db.CreateBatch();
            var reads = hashes.Select(h => batch.HashGetAsync(h, ids)).ToArray();
            batch.Execute();
            return Task.WhenAll(reads);
        }, cancellationToken).WaitAsync(cancellationToken);

    /// <summary>Whether tasks read as absent (<paramref name="ids"/>) are there after all, or were read from a server that
    /// lacked the queue (no schema version, and no mark that it was destroyed: a restart without persistence, or an old
    /// master back empty). A server without the queue is waited for as an outage is (the retry layer's budget) until it
    /// has it. True: read them again.</summary>
    public async Task<bool> AbsentTasksToReadAgainAsync(RedisValue[] ids)
    {
        var lacked = false;
        var found = await RunAsync(async db =>
        {
            var read = db.CreateTransaction();
            var version = read.KeyExistsAsync(Keys.Version);
            var destroyed = read.KeyExistsAsync(Keys.Destroyed);
            var statuses = read.HashGetAsync(Keys.TaskStatus, ids);
            await read.ExecuteAsync().ConfigureAwait(false);
            if (!await version.ConfigureAwait(false) && !await destroyed.ConfigureAwait(false))
            {
                lacked = true;
                throw new Connection.QueueNotHereException(Keys.QueueId);
            }
            return (await statuses.ConfigureAwait(false)).Any(s => !s.IsNull);
        }).ConfigureAwait(false);
        return lacked || found;
    }

    /// <summary>The dependents of each task of <paramref name="roots"/> (the first task of a retry chain, under which its
    /// links are kept), in submission order: one range of task:depends_down each, in one round trip.</summary>
    public async Task<string[][]> DependentsAsync(IReadOnlyList<string> roots)
    {
        var ranges = await RunAsync(db =>
        {
            var batch = db.CreateBatch();
            var reads = roots.Select(p => batch.SortedSetRangeByValueAsync(Keys.TaskDependsDown, p, p + ":", Exclude.Stop)).ToArray();
            batch.Execute();
            return Task.WhenAll(reads);
        }).ConfigureAwait(false);
        // A member is "<parent id><16-digit sequence><child id>".
        return [.. ranges.Select((members, i) => members.Select(m => ((string)m!)[(roots[i].Length + 16)..]).ToArray())];
    }

    /// <summary>For each id, whether that task exists (has a payload).</summary>
    public Task<bool[]> TasksExistAsync(IReadOnlyList<string> ids, CancellationToken cancellationToken) => RunAsync(db =>
    {
        var batch = db.CreateBatch();
        var checks = ids.Select(id => batch.HashExistsAsync(Keys.TaskExpr, id)).ToArray();
        batch.Execute();
        return Task.WhenAll(checks);
    }, cancellationToken).WaitAsync(cancellationToken);

    /// <summary>Up to <paramref name="take"/> of the tasks in <paramref name="finishedSet"/> (done:complete or done:failed)
    /// that finished before <paramref name="before"/>, oldest first.</summary>
    public async Task<string[]> FinishedBeforeAsync(RedisKey finishedSet, DateTimeOffset before, int take, CancellationToken cancellationToken) =>
        Strings(await RunAsync(db => db.SortedSetRangeByScoreAsync(finishedSet, double.NegativeInfinity,
            before.ToUnixTimeMilliseconds() / 1000.0, Exclude.Stop, take: take), cancellationToken).WaitAsync(cancellationToken).ConfigureAwait(false));

    /// <summary>The length of each of <paramref name="queues"/>' lists, read now and waited for up to <paramref name="wait"/>,
    /// not through the retry layer (a metrics gauge's callback is synchronous and must not wait out an outage): those not
    /// read in time are left out.</summary>
    public (string Queue, long Length)[] QueueLengthsNow(IReadOnlyList<string> queues, TimeSpan wait)
    {
        var batch = Db.CreateBatch();
        var lengths = queues.Select(n => batch.ListLengthAsync(Keys.Queue(n))).ToArray();
        batch.Execute();
        try
        {
            Task.WaitAll(lengths, wait);
        }
        catch (AggregateException)
        {
            // Those that failed are left out below.
        }
        return [.. queues.Select((n, i) => (n, lengths[i].IsCompletedSuccessfully ? lengths[i].Result : -1)).Where(x => x.Item2 >= 0)];
    }
}
