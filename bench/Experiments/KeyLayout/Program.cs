using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Rrq.Testing;
using StackExchange.Redis;
using static Rrq.Bench.Measure;
using static Rrq.Bench.RedisInfo;

// An experiment behind a design decision (docs/keys.md, "Why per-field hashes"): Rrq's key layout against one hash per
// task, measured inside Redis apart from everything else; and what a script call costs Redis before it does anything,
// by its number of keys and arguments. Not part of the benchmark: it measures Redis, not Rrq.
//
//   dotnet run -c Release --project bench/Experiments/KeyLayout [-- --quick]
//
// Against RRQ_REDIS when set, else a redis-server of its own on a free loopback port.

var quick = args.Contains("--quick");
Process? server = null;
var address = Environment.GetEnvironmentVariable("RRQ_REDIS");
if (address is not { Length: > 0 })
{
    using var probe = new TcpListener(IPAddress.Loopback, 0);
    probe.Start();
    var port = ((IPEndPoint)probe.LocalEndpoint).Port;
    probe.Stop();
    server = ServerProcesses.Start("--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1",
        "--save", "", "--appendonly", "no");
    ServerProcesses.WaitUntilAnswering(server, port, TimeSpan.FromSeconds(15));
    address = $"127.0.0.1:{port}";
}
try
{
    using var mux = await ConnectionMultiplexer.ConnectAsync(address + ",allowAdmin=true");
    var db = mux.GetDatabase();
    // The key layout, measured apart from everything else: the writes and reads of a task's life (submit, claim,
    // finish) and a bulk status read, run inside single scripts so only Redis's own work is timed. Rrq keeps one hash
    // per field, keyed by task id (rrq's layout); the alternative is one hash per task (BullMQ's), with the status
    // also kept in a per-field hash for bulk reads.
    var n = quick ? 2_000 : 20_000;
    const string perField = """
        local n, p = tonumber(ARGV[1]), ARGV[2]
        for i = 1, n do
          local id = p .. i
          redis.call('HSET', p .. 'expr', id, 'i + 1')
          redis.call('HSET', p .. 'local', id, 'TRUE')
          redis.call('HSET', p .. 'status', id, 'PENDING')
          redis.call('HSET', p .. 'queue', id, 'default')
          redis.call('HSET', p .. 'time_submit', id, '1764689000.123456')
          redis.call('RPUSH', p .. 'list', id)
        end
        for i = 1, n do
          local id = redis.call('LPOP', p .. 'list')
          if redis.call('HGET', p .. 'status', id) == 'PENDING' then
            redis.call('HGET', p .. 'expr', id)
            redis.call('HGET', p .. 'local', id)
            redis.call('HSET', p .. 'status', id, 'RUNNING')
            redis.call('HSET', p .. 'worker', id, 'brave_otter_1')
            redis.call('HSET', p .. 'time_start', id, '1764689000.223456')
            redis.call('HSET', p .. 'claim', id, 'a1b2c3d4e5f6.17')
          end
        end
        for i = 1, n do
          local id = p .. i
          if redis.call('HGET', p .. 'status', id) == 'RUNNING' and redis.call('HGET', p .. 'worker', id) == 'brave_otter_1'
              and redis.call('HGET', p .. 'claim', id) == 'a1b2c3d4e5f6.17' then
            redis.call('HSET', p .. 'status', id, 'COMPLETE')
            redis.call('HSET', p .. 'claim', id, 'a1b2c3d4e5f6.17:done')
            redis.call('HSET', p .. 'result', id, 'abcdefgh')
            redis.call('HSET', p .. 'time_complete', id, '1764689000.323456')
          end
        end
        return n
        """;
    const string perTask = """
        local n, p = tonumber(ARGV[1]), ARGV[2]
        for i = 1, n do
          local id = p .. i
          redis.call('HSET', p .. 'task:' .. id, 'expr', 'i + 1', 'local', 'TRUE', 'status', 'PENDING', 'queue', 'default',
            'time_submit', '1764689000.123456')
          redis.call('HSET', p .. 'status', id, 'PENDING')
          redis.call('RPUSH', p .. 'list', id)
        end
        for i = 1, n do
          local id = redis.call('LPOP', p .. 'list')
          local key = p .. 'task:' .. id
          local f = redis.call('HMGET', key, 'status', 'expr', 'local')
          if f[1] == 'PENDING' then
            redis.call('HSET', key, 'status', 'RUNNING', 'worker', 'brave_otter_1', 'time_start', '1764689000.223456',
              'claim', 'a1b2c3d4e5f6.17')
            redis.call('HSET', p .. 'status', id, 'RUNNING')
          end
        end
        for i = 1, n do
          local id = p .. i
          local key = p .. 'task:' .. id
          local f = redis.call('HMGET', key, 'status', 'worker', 'claim')
          if f[1] == 'RUNNING' and f[2] == 'brave_otter_1' and f[3] == 'a1b2c3d4e5f6.17' then
            redis.call('HSET', key, 'status', 'COMPLETE', 'claim', 'a1b2c3d4e5f6.17:done', 'result', 'abcdefgh',
              'time_complete', '1764689000.323456')
            redis.call('HSET', p .. 'status', id, 'COMPLETE')
          end
        end
        return n
        """;
    const string readPerField = "local ids = {} for i = 1, tonumber(ARGV[1]) do ids[i] = ARGV[2] .. i end return #redis.call('HMGET', ARGV[2] .. 'status', unpack(ids))";
    const string readPerTask = "local c = 0 for i = 1, tonumber(ARGV[1]) do if redis.call('HGET', ARGV[2] .. 'task:' .. ARGV[2] .. i, 'status') then c = c + 1 end end return c";
    async Task<(double Life, double Read, double Bytes)> LayoutAsync(string life, string read, string prefix)
    {
        var sw = Stopwatch.StartNew();
        await db.ScriptEvaluateAsync(life, values: [n, prefix]);
        var lifeMs = sw.Elapsed.TotalMilliseconds;
        var reads = await Repeat(5, async () => await db.ScriptEvaluateAsync(read, values: [2048, prefix]));
        // What the keys hold, summed key by key (MEMORY USAGE), then they go.
        var server3 = mux.GetServer(mux.GetEndPoints()[0]);
        long bytes = 0;
        await foreach (var key in server3.KeysAsync(pattern: prefix + "*", pageSize: 1000))
        {
            bytes += (long)await db.ExecuteAsync("MEMORY", "USAGE", key, "SAMPLES", "0");
            await db.KeyDeleteAsync(key);
        }
        return (lifeMs / n * 1000, Median(reads), bytes / (double)n);
    }
    var a = await LayoutAsync(perField, readPerField, "{layoutA}:");
    var b = await LayoutAsync(perTask, readPerTask, "{layoutB}:");
    a = await LayoutAsync(perField, readPerField, "{layoutA}:");   // again, each after the other has warmed the server
    Console.WriteLine($"key layout, {n:N0} tasks through submit, claim and finish inside Redis: one hash per field {a.Life:0.0} µs per task, " +
        $"{a.Bytes:0} bytes per task; one hash per task (plus a status hash) {b.Life:0.0} µs per task ({b.Life / a.Life:0.00} of it), {b.Bytes:0} bytes per task");
    Console.WriteLine($"  a status read of 2,048 tasks in one script: per-field hash (one HMGET) {Ms(a.Read)}, per-task hashes (2,048 HGET) {Ms(b.Read)}");
    // What a script call costs Redis before it does anything: a no-op called with task_finish's number of keys and
    // arguments, against one with two keys (Redis's own time, from INFO commandstats).
    async Task<double> NoOpAsync(int keys, int args)
    {
        var sha = Convert.FromHexString((string)(await db.ExecuteAsync("SCRIPT", "LOAD", "return 1"))!);
        RedisKey[] ks = [.. Enumerable.Range(0, keys).Select(i => (RedisKey)$"{{layoutC}}:task:field{i}")];
        RedisValue[] vs = [.. Enumerable.Range(0, args).Select(i => (RedisValue)$"argument-{i}-0123456789abcdef")];
        var before = await ScriptStats(mux);
        var calls = Enumerable.Range(0, 10_000).Select(_ => db.ScriptEvaluateAsync(sha, ks, vs)).ToArray();
        await Task.WhenAll(calls);
        var after = await ScriptStats(mux);
        return (after.Usec - before.Usec) / (double)(after.Calls - before.Calls);
    }
    var small = await NoOpAsync(2, 2);
    var finishSized = await NoOpAsync(52, 14);
    Console.WriteLine($"  a script call that does nothing: with 2 keys {small:0.0} µs, with task_finish's 52 keys and 14 arguments {finishSized:0.0} µs");
}
finally
{
    if (server is not null)
    {
        ServerProcesses.EndAll([server], null);
    }
}
