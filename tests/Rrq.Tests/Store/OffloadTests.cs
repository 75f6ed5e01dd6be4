using Rrq.Scripting;
using Rrq.Tests.Support;

namespace Rrq.Tests.Store;

/// <summary>Large values kept in an offload directory instead of Redis.</summary>
[Trait(RedisServer.OnGarnet, "yes")]
public sealed class OffloadTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rrq-offload-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private RrqOffload Offload => new(_dir, ThresholdBytes: 1024);

    private string[] Files() => Directory.GetDirectories(_dir).SelectMany(Directory.GetFiles).ToArray();

    private static StackExchange.Redis.IDatabase Db => RedisServer.Instance.Connection.GetDatabase();

    [Fact]
    public async Task Large_locals_and_results_go_to_the_directory_once_each_and_go_with_the_last_task_using_them()
    {
        await using var q = await TestQueue.CreateAsync();
        await using var obj = await RrqController.ConnectAsync(q.QueueId, RedisServer.Instance.Address, offload: Offload);
        var big = Enumerable.Range(0, 10_000).Select(i => (double)i).ToArray();          // 80 kB
        var t1 = obj.TaskCreateExpr("big.Sum()", new { big });
        var t2 = obj.TaskCreateExpr("big.Length", new { big, small = 1 });
        var t3 = obj.TaskCreateExpr("Enumerable.Repeat(0.5, 5_000).ToArray()");          // a 40 kB result
        Assert.Single(Files());                                                            // big, stored once
        Assert.True((await Db.HashGetAsync($"{{{q.QueueId}}}:task:expr", t1)).Length() < 1024);

        await using var w = await RrqWorker.CreateAsync(obj, new RoslynTaskEvaluator());
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(RrqTaskStatus.Complete, (await w.StepAsync()).Status);
        }
        Assert.Equal(big.Sum(), obj.TaskResult(t1));
        Assert.Equal(10_000, obj.TaskResult(t2));
        Assert.Equal(Enumerable.Repeat(0.5, 5_000).ToArray(), obj.TaskResult(t3));
        Assert.Equal(big, obj.TaskData(t1).Locals["big"]);
        Assert.Equal(2, Files().Length);                                                   // big and t3's result
        Assert.True((await Db.HashGetAsync($"{{{q.QueueId}}}:task:result", t3)).Length() < 1024);

        obj.TaskDelete(t1);
        Assert.Equal(2, Files().Length);                                                   // t2 still uses big
        obj.TaskDelete([t2, t3]);
        Assert.Empty(Files());
        Assert.Equal(0, await Db.HashLengthAsync($"{{{q.QueueId}}}:offload:refs"));
    }

    [Fact]
    public async Task An_offloaded_value_changed_in_its_file_is_refused_not_run()
    {
        await using var q = await TestQueue.CreateAsync();
        await using var obj = await RrqController.ConnectAsync(q.QueueId, RedisServer.Instance.Address, offload: Offload);
        var big = Enumerable.Range(0, 10_000).Select(i => (double)i).ToArray();
        var t = obj.TaskCreateExpr("big.Sum()", new { big });
        var file = Assert.Single(Files());
        File.WriteAllBytes(file, Rrq.Store.RrqValueCodec.Serialize(Enumerable.Repeat(666.0, 10_000).ToArray()));
        await using var w = await RrqWorker.CreateAsync(obj, new RoslynTaskEvaluator());
        Assert.Equal(RrqTaskStatus.Error, (await w.StepAsync()).Status);
        var e = Assert.IsType<RrqTaskError>(obj.TaskResult(t));
        Assert.Contains("does not match its content hash: the file was changed after it was written", e.Message);
    }

    [Fact]
    public async Task A_large_answer_to_a_message_goes_to_the_directory_and_goes_when_it_or_its_worker_is_deleted()
    {
        await using var q = await TestQueue.CreateAsync();
        await using var obj = await RrqController.ConnectAsync(q.QueueId, RedisServer.Instance.Address, offload: Offload);
        var w = await RrqWorker.CreateAsync(obj, new RoslynTaskEvaluator());
        var expected = Enumerable.Repeat(0.25, 5_000).ToArray();                          // a 40 kB answer
        var first = obj.MessageSend("EVAL", "Enumerable.Repeat(0.25, 5_000).ToArray()");
        var second = obj.MessageSend("EVAL", "Enumerable.Repeat(0.75, 5_000).ToArray()");
        await w.StepAsync();
        await w.StepAsync();
        Assert.Equal(2, Files().Length);
        Assert.True((await Db.HashGetAsync($"{{{q.QueueId}}}:worker:{w.Id}:response", first)).Length() < 1024);

        Assert.Equal(expected, obj.MessageGetResponse(first, delete: true)[w.Id].Result);
        Assert.Single(Files());                                                           // the first answer's file went with it
        await w.StopAsync();
        obj.WorkerDeleteExited([w.Id]);
        Assert.Empty(Files());                                                            // the second went with its worker
        Assert.Equal(0, await Db.HashLengthAsync($"{{{q.QueueId}}}:offload:refs"));
        Assert.Equal(0, await Db.HashLengthAsync($"{{{q.QueueId}}}:offload:owner"));
    }

    [Fact]
    public async Task A_controller_without_the_directory_reads_small_values_and_is_told_where_large_ones_are()
    {
        await using var q = await TestQueue.CreateAsync();
        await using var obj = await RrqController.ConnectAsync(q.QueueId, RedisServer.Instance.Address, offload: Offload);
        var small = obj.TaskCreateExpr("40 + 2");
        var large = obj.TaskCreateExpr("new string('x', 5_000)");
        await using var w = await RrqWorker.CreateAsync(obj, new RoslynTaskEvaluator());
        await w.StepAsync();
        await w.StepAsync();

        await using var other = await RrqController.ConnectAsync(q.QueueId, RedisServer.Instance.Address);   // no offload directory
        Assert.Null(other.Offload);
        Assert.Equal(2, other.TaskList().Count);
        Assert.Equal(RrqTaskStatus.Complete, other.TaskStatus(large));
        Assert.Equal(42, other.TaskResult(small));
        var e = Assert.Throws<RrqException>(() => other.TaskResult(large));
        Assert.Contains($"The result of task {large} (", e.Message);
        Assert.Contains($"is stored in the offload directory '{_dir}'", e.Message);
        Assert.Contains("RRQ_OFFLOAD", e.Message);
        Assert.Equal(new string('x', 5_000), obj.TaskResult(large));
    }

    [Fact]
    public async Task An_offload_directory_that_cannot_be_written_is_refused_at_connect_naming_it()
    {
        var file = Path.Combine(_dir, "a-file");
        await File.WriteAllTextAsync(file, "");
        var bad = Path.Combine(file, "sub");
        var e = await Assert.ThrowsAsync<RrqException>(() =>
            RrqController.ConnectAsync("rrq:offload-bad", RedisServer.Instance.Address, offload: new RrqOffload(bad)));
        Assert.Contains($"The offload directory '{bad}' cannot be used", e.Message);
    }

    [Fact]
    public async Task Spawned_workers_and_their_separate_processes_use_the_controllers_directory_and_destroy_removes_it()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = await RrqController.ConnectAsync(q.QueueId, RedisServer.Instance.Address, offload: Offload);
        var spawned = await obj.WorkerSpawnAsync(1, timeout: TimeSpan.FromSeconds(60));
        try
        {
            var shared = new { table = Enumerable.Range(0, 2_000).Select(i => i * 0.5).ToArray() };   // 16 kB, shared
            var bulk = obj.TaskCreateBulkExpr("table[i] + table.Length", new[] { new { i = 1 }, new { i = 2 } }, shared: shared);
            var separate = obj.TaskCreateExpr("Enumerable.Range(0, 1_000).Select(i => (long)i).ToArray()", separateProcess: true);
            Assert.True(obj.TaskWait([.. bulk, separate], TimeSpan.FromSeconds(120)));
            Assert.Equal([2000.5, 2001.0], obj.TaskResults(bulk));
            Assert.Equal(Enumerable.Range(0, 1_000).Select(i => (long)i).ToArray(), obj.TaskResult(separate));
            Assert.Equal(2, Files().Length);                                                 // the shared table and the result
            obj.TaskDelete(bulk);
            Assert.Single(Files());
            obj.Destroy(timeoutWorkerStop: TimeSpan.FromSeconds(30));
            Assert.Empty(Directory.GetDirectories(_dir));
        }
        finally
        {
            spawned.Kill();
            await obj.DisposeAsync();
        }
    }
}
