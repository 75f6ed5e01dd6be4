using StackExchange.Redis;

namespace Rrq.Scripts;

/// <summary>The plain reads and writes the controller makes about workers (their configurations, registry, statuses, what
/// they told about themselves, their logs), by name, through the retry layer.</summary>
internal sealed partial class QueueContext
{
    /// <summary>Saves a worker configuration (JSON) under <paramref name="name"/>; false when one exists and
    /// <paramref name="overwrite"/> is not set.</summary>
    public Task<bool> WorkerConfigSetAsync(string name, string json, bool overwrite, CancellationToken cancellationToken) =>
        RunAsync(db => db.HashSetAsync(Keys.WorkerConfig, name, json, overwrite ? When.Always : When.NotExists), cancellationToken)
            .WaitAsync(cancellationToken);

    /// <summary>A saved worker configuration (JSON), or null.</summary>
    public async Task<string?> WorkerConfigGetAsync(string name, CancellationToken cancellationToken) =>
        (string?)await RunAsync(db => db.HashGetAsync(Keys.WorkerConfig, name), cancellationToken).WaitAsync(cancellationToken).ConfigureAwait(false);

    /// <summary>The names of the saved worker configurations, unordered.</summary>
    public async Task<string[]> WorkerConfigNamesAsync(CancellationToken cancellationToken) =>
        Strings(await RunAsync(db => db.HashKeysAsync(Keys.WorkerConfig), cancellationToken).WaitAsync(cancellationToken).ConfigureAwait(false));

    /// <summary>The ids of the live (registered) workers, unordered.</summary>
    public async Task<string[]> LiveWorkersAsync(CancellationToken cancellationToken) =>
        Strings(await RunAsync(db => db.SetMembersAsync(Keys.WorkerId), cancellationToken).WaitAsync(cancellationToken).ConfigureAwait(false));

    /// <summary>Whether <paramref name="workerId"/> is registered (live).</summary>
    public Task<bool> WorkerLiveAsync(string workerId, CancellationToken cancellationToken) =>
        RunAsync(db => db.SetContainsAsync(Keys.WorkerId, workerId), cancellationToken).WaitAsync(cancellationToken);

    /// <summary>How many workers are registered (live).</summary>
    public Task<long> LiveWorkerCountAsync(CancellationToken cancellationToken) =>
        RunAsync(db => db.SetLengthAsync(Keys.WorkerId), cancellationToken).WaitAsync(cancellationToken);

    /// <summary>A worker's status as stored (IDLE, BUSY, ...), or null when it never registered.</summary>
    public async Task<string?> WorkerStatusFieldAsync(string workerId, CancellationToken cancellationToken) =>
        (string?)await RunAsync(db => db.HashGetAsync(Keys.WorkerStatus, workerId), cancellationToken).WaitAsync(cancellationToken).ConfigureAwait(false);

    /// <summary>The status of every worker that ever registered, by id.</summary>
    public async Task<Dictionary<string, RrqWorkerStatus>> WorkerStatusesAsync(CancellationToken cancellationToken) =>
        (await RunAsync(db => db.HashGetAllAsync(Keys.WorkerStatus), cancellationToken).WaitAsync(cancellationToken).ConfigureAwait(false))
            .ToDictionary(e => (string)e.Name!, e => RrqWorkerStatusExtensions.ParseWorkerStatus((string)e.Value!), StringComparer.Ordinal);

    /// <summary>What each of <paramref name="workerIds"/> told about itself (JSON), in their order; null for one that did not.</summary>
    public async Task<string?[]> WorkerInfoJsonAsync(IReadOnlyList<string> workerIds, CancellationToken cancellationToken) =>
        [.. (await RunAsync(db => db.HashGetAsync(Keys.WorkerInfo, [.. workerIds.Select(i => (RedisValue)i)]), cancellationToken)
            .WaitAsync(cancellationToken).ConfigureAwait(false)).Select(v => (string?)v)];

    /// <summary>The last <paramref name="n"/> lines of a worker's log (0: all of them).</summary>
    public async Task<string[]> WorkerLogLinesAsync(string workerId, int n, CancellationToken cancellationToken) =>
        Strings(await RunAsync(db => db.ListRangeAsync(Keys.WorkerLog(workerId), n == 0 ? 0 : -n, -1), cancellationToken)
            .WaitAsync(cancellationToken).ConfigureAwait(false));

    /// <summary>Where a spawned worker's process log is, or null for a worker not started by WorkerSpawn.</summary>
    public async Task<string?> WorkerProcessLogPathAsync(string workerId, CancellationToken cancellationToken) =>
        (string?)await RunAsync(db => db.HashGetAsync(Keys.WorkerProcess, workerId), cancellationToken).WaitAsync(cancellationToken).ConfigureAwait(false);

    /// <summary>The workers on record (those that ever told about themselves, live or not), and the live ones.</summary>
    public Task<(string[] Known, HashSet<string> Live)> WorkersKnownAndLiveAsync(CancellationToken cancellationToken) => RunAsync(async db =>
    {
        var batch = db.CreateBatch();
        var known = batch.HashKeysAsync(Keys.WorkerInfo);
        var live = batch.SetMembersAsync(Keys.WorkerId);
        batch.Execute();
        return (Strings(await known.ConfigureAwait(false)), Strings(await live.ConfigureAwait(false)).ToHashSet(StringComparer.Ordinal));
    }, cancellationToken).WaitAsync(cancellationToken);

    /// <summary>The live workers, and the stored status of each of <paramref name="workerIds"/> (null: never registered).</summary>
    public Task<(HashSet<string> Live, string?[] Statuses)> LiveAndStatusesAsync(IReadOnlyList<string> workerIds, CancellationToken cancellationToken) =>
        RunAsync(async db =>
        {
            var batch = db.CreateBatch();
            var live = batch.SetMembersAsync(Keys.WorkerId);
            var statuses = batch.HashGetAsync(Keys.WorkerStatus, [.. workerIds.Select(i => (RedisValue)i)]);
            batch.Execute();
            return (Strings(await live.ConfigureAwait(false)).ToHashSet(StringComparer.Ordinal),
                (await statuses.ConfigureAwait(false)).Select(v => (string?)v).ToArray());
        }, cancellationToken).WaitAsync(cancellationToken);

    /// <summary>The process log files of the given spawned workers (null: of every one), those known.</summary>
    public async Task<string[]> WorkerProcessLogPathsAsync(IReadOnlyList<string>? workerIds, CancellationToken cancellationToken)
    {
        var paths = workerIds is null
            ? await RunAsync(db => db.HashValuesAsync(Keys.WorkerProcess), cancellationToken).WaitAsync(cancellationToken).ConfigureAwait(false)
            : await RunAsync(db => db.HashGetAsync(Keys.WorkerProcess, [.. workerIds.Select(i => (RedisValue)i)]), cancellationToken)
                .WaitAsync(cancellationToken).ConfigureAwait(false);
        return [.. paths.Where(v => !v.IsNull).Select(v => (string)v!)];
    }

    /// <summary>The tasks each of <paramref name="workerIds"/> holds now, in their order.</summary>
    public async Task<IReadOnlyList<string>[]> WorkerHeldAsync(IReadOnlyList<string> workerIds, CancellationToken cancellationToken) =>
        [.. (await RunAsync(db => db.HashGetAsync(Keys.WorkerTask, [.. workerIds.Select(i => (RedisValue)i)]), cancellationToken)
            .WaitAsync(cancellationToken).ConfigureAwait(false)).Select(v => (IReadOnlyList<string>)HeldIds((string?)v))];

    /// <summary>The ids of the workers on record (live or not), unordered.</summary>
    public async Task<string[]> KnownWorkersAsync(CancellationToken cancellationToken) =>
        Strings(await RunAsync(db => db.HashKeysAsync(Keys.WorkerInfo), cancellationToken).WaitAsync(cancellationToken).ConfigureAwait(false));

    private static string[] Strings(RedisValue[] values) => [.. values.Select(v => (string)v!)];

    /// <summary>For each heartbeat key (as a worker's info names it), whether it is there (the worker beat within its
    /// expiry); a worker without one (null) counts as beating.</summary>
    public Task<bool[]> HeartbeatsThereAsync(IReadOnlyList<string?> heartbeatKeys, CancellationToken cancellationToken) => RunAsync(db =>
    {
        var batch = db.CreateBatch();
        var checks = heartbeatKeys.Select(k => k is null ? Task.FromResult(true) : batch.KeyExistsAsync(k)).ToArray();
        batch.Execute();
        return Task.WhenAll(checks);
    }, cancellationToken).WaitAsync(cancellationToken);

    /// <summary>The ids of the messages <paramref name="workerId"/> has answered (answers not deleted), unordered.</summary>
    public async Task<string[]> ResponseIdsAsync(string workerId, CancellationToken cancellationToken) =>
        Strings(await RunAsync(db => db.HashKeysAsync(Keys.WorkerResponse(workerId)), cancellationToken).WaitAsync(cancellationToken).ConfigureAwait(false));

    /// <summary>Each worker's stored answer to message <paramref name="messageId"/> (null: none yet), in one round trip.</summary>
    public Task<RedisValue[]> ResponsesAsync(string messageId, IReadOnlyList<string> workerIds) => RunAsync(db =>
    {
        var batch = db.CreateBatch();
        var reads = workerIds.Select(w => batch.HashGetAsync(Keys.WorkerResponse(w), messageId)).ToArray();
        batch.Execute();
        return Task.WhenAll(reads);
    });

    /// <summary>Whether any of <paramref name="workerIds"/> is a worker on record, or a spawned one's (their names are
    /// taken).</summary>
    public async Task<bool> WorkerNamesTakenAsync(IReadOnlyList<string> workerIds)
    {
        RedisValue[] ids = [.. workerIds.Select(i => (RedisValue)i)];
        var found = await RunAsync(db =>
        {
            var batch = db.CreateBatch();
            var known = batch.HashGetAsync(Keys.WorkerStatus, ids);
            var spawned = batch.HashGetAsync(Keys.WorkerProcess, ids);
            batch.Execute();
            return Task.WhenAll(known, spawned);
        }).ConfigureAwait(false);
        return found.Any(values => values.Any(v => !v.IsNull));
    }

    /// <summary>Notes where a spawned worker's process log is (before the worker starts, so its name is taken).</summary>
    public Task WorkerProcessLogSetAsync(string workerId, string logPath, CancellationToken cancellationToken) =>
        RunAsync(db => db.HashSetAsync(Keys.WorkerProcess, workerId, logPath), cancellationToken).WaitAsync(cancellationToken);

    /// <summary>Removes a worker's heartbeat key (a worker that found itself no longer registered).</summary>
    public Task HeartbeatDeleteAsync(string workerId) => RunAsync(db => db.KeyDeleteAsync(Keys.WorkerHeartbeat(workerId)));

    /// <summary>Whether the queue has a worker environment stored.</summary>
    public Task<bool> EnvirStoredAsync() => RunAsync(db => db.HashExistsAsync(Keys.Envir, "spec"));

    /// <summary>The stored worker environment's version (0 when none is stored).</summary>
    public async Task<long> EnvirVersionAsync() =>
        (long?)await RunAsync(db => db.HashGetAsync(Keys.Envir, "version")).ConfigureAwait(false) ?? 0;

    /// <summary>Whether the mark that the queue was destroyed is there (it lasts a day).</summary>
    public Task<bool> DestroyedMarkAsync() => RunAsync(db => db.KeyExistsAsync(Keys.Destroyed));
}
