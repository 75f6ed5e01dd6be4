using Rrq.Tests.Support;

namespace Rrq.Tests.Controller;

/// <summary>What the controller's XML docs say a call throws or returns, where no other test walks it.</summary>
[Trait(RedisServer.OnGarnet, "yes")]
public class DocumentedContractTests
{
    [Fact]
    public async Task TaskLog_throws_for_an_in_process_task_and_a_missing_one_and_is_empty_before_a_separate_process_task_starts()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var inProcess = obj.TaskCreateExpr("1");
        var e = Assert.Throws<RrqException>(() => obj.TaskLog(inProcess));
        Assert.Contains($"Task '{inProcess}' has no log: it runs inside its worker's process", e.Message);
        var missing = new string('e', 32);
        Assert.Contains("MISSING", Assert.Throws<RrqException>(() => obj.TaskLog(missing)).Message);
        var separate = obj.TaskCreateExpr("1", separateProcess: true);
        Assert.Empty(obj.TaskLog(separate));
    }

    [Fact]
    public async Task WorkerProcessLog_of_a_worker_not_started_by_WorkerSpawn_says_it_has_none()
    {
        await using var q = await TestQueue.CreateAsync();
        var w = await q.WorkerAsync("in-here");
        var e = Assert.Throws<RrqException>(() => q.Controller.WorkerProcessLog(w.Id));
        Assert.Contains("No process log is known for worker 'in-here'", e.Message);
    }

    [Fact]
    public async Task TaskData_of_a_missing_task_throws_naming_it()
    {
        await using var q = await TestQueue.CreateAsync();
        var missing = new string('d', 32);
        var e = Assert.Throws<RrqException>(() => q.Controller.TaskData(missing));
        Assert.Contains(missing, e.Message);
        Assert.Contains("MISSING", e.Message);
    }
}
