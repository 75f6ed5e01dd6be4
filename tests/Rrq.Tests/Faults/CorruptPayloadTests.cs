using MemoryPack;
using Rrq.Tasks;
using Rrq.Tests.Support;
using StackExchange.Redis;

namespace Rrq.Tests.Faults;

/// <summary>
/// Nothing read from Redis is trusted: a task whose stored payload was damaged ends as ERROR saying so,
/// and the worker that claimed it goes on to the next task.
/// </summary>
[Trait(RedisServer.OnGarnet, "yes")]
public class CorruptPayloadTests
{
    private static IDatabase Db => RedisServer.Instance.Connection.GetDatabase();

    private static string ExprKey(TestQueue q) => $"{{{q.QueueId}}}:task:expr";

    /// <summary>Damages the stored payload of a task that no worker has claimed yet.</summary>
    private static async Task Damage(TestQueue q, string taskId, string how)
    {
        var raw = (byte[])(await Db.HashGetAsync(ExprKey(q), taskId))!;
        switch (how)
        {
            case "garbage":
                await Db.HashSetAsync(ExprKey(q), taskId, Enumerable.Range(0, 64).Select(i => (byte)(i * 37 + 11)).ToArray());
                break;
            case "truncated":
                await Db.HashSetAsync(ExprKey(q), taskId, raw[..(raw.Length / 2)]);
                break;
            case "missing":
                await Db.HashDeleteAsync(ExprKey(q), taskId);
                break;
            case "local length prefix":
                // The local's own bytes: kind (array), then a count far past the end.
                var payload = MemoryPackSerializer.Deserialize<TaskPayload>(raw)!;
                payload.LocalValues[0][1] = 0xFF;
                payload.LocalValues[0][2] = 0xFF;
                payload.LocalValues[0][3] = 0xFF;
                payload.LocalValues[0][4] = 0x7F;
                await Db.HashSetAsync(ExprKey(q), taskId, MemoryPackSerializer.Serialize(payload));
                break;
            default:
                throw new ArgumentException(how);
        }
    }

    [Theory]
    [InlineData("garbage", "cannot be read")]
    [InlineData("truncated", "cannot be read")]
    [InlineData("missing", "cannot be read")]
    [InlineData("local length prefix", "Could not read the task's locals")]
    public async Task A_damaged_payload_makes_its_task_ERROR_naming_it_and_the_worker_runs_the_next_task(string how, string said)
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var bad = obj.TaskCreateExpr("xs.Length", new { xs = new object[] { 1, 2, 3 } });
        var good = obj.TaskCreateExpr("xs.Length", new { xs = new object[] { 1, 2, 3 } });
        await Damage(q, bad, how);
        var w = await q.WorkerAsync();

        var step = await w.StepAsync();
        Assert.Equal(bad, step.TaskId);
        Assert.Equal(RrqTaskStatus.Error, step.Status);
        var error = (RrqTaskError)obj.TaskResult(bad)!;
        Assert.Contains(said, error.Message, StringComparison.Ordinal);
        Assert.Contains(bad, error.Message, StringComparison.Ordinal);

        Assert.Equal(good, (await w.StepAsync()).TaskId);
        Assert.Equal(3, obj.TaskResult(good));
        Assert.Equal(RrqWorkerStatus.Idle, obj.WorkerStatus(w.Id));
    }

    [Fact]
    public async Task A_damaged_separate_process_task_is_ERROR_too()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var bad = obj.TaskCreateExpr("1 + 1", separateProcess: true);
        await Damage(q, bad, "garbage");
        var w = await q.WorkerAsync();
        Assert.Equal(RrqTaskStatus.Error, (await w.StepAsync()).Status);
        Assert.Contains("cannot be read", ((RrqTaskError)obj.TaskResult(bad)!).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_damaged_task_retried_automatically_is_no_poison_pill_for_real_workers()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var bad = obj.TaskCreateExpr("41 + 1", retry: new RrqRetryPolicy { MaxAttempts = 3, On = [RrqTaskStatus.Error, RrqTaskStatus.Died] });
        await Damage(q, bad, "garbage");
        var workers = await q.SpawnAsync(2);

        Assert.False(await obj.TaskWaitAsync(bad, TimeSpan.FromSeconds(60)));
        Assert.Equal(RrqTaskStatus.Error, obj.TaskStatus(bad));
        Assert.Equal(2, obj.TaskInfo(bad).Moved.Down.Count);   // three attempts in all, each an ERROR, none a crash
        Assert.All(workers.Ids, id => Assert.True(workers.IsAlive(id), $"worker {id} exited"));
        var after = obj.TaskCreateExpr("6 * 7");
        Assert.True(await obj.TaskWaitAsync(after, TimeSpan.FromSeconds(30)));
        Assert.Equal(42, obj.TaskResult(after));
    }
}
