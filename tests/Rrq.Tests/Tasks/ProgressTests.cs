using Rrq.Tests.Support;

namespace Rrq.Tests.Tasks;

/// <summary>Progress reported by task code (RrqTask.Progress) and read with TaskProgress.</summary>
[Trait(RedisServer.OnGarnet, "yes")]
public class ProgressTests
{
    // Reports 0.5, waits for the test's go-ahead file, reports "done", returns 1.
    private const string Reporting = "RrqTask.Progress(0.5); " + Gate.Wait + " RrqTask.Progress(\"done\"); 1";

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Progress_is_readable_while_the_task_runs_and_after_in_process_and_in_a_separate_process(bool separate)
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        using var gate = new Gate();
        var t = obj.TaskCreateExpr(Reporting, gate.Locals, separateProcess: separate);
        Assert.Null(obj.TaskProgress(t));                                // none reported yet
        var w = await q.WorkerAsync();
        using var cts = new CancellationTokenSource();
        var loop = w.RunAsync(cts.Token);
        try
        {
            await Poll.Until(async () => 0.5.Equals(await obj.TaskProgressAsync(t)), 60);
            Assert.Equal(RrqTaskStatus.Running, obj.TaskStatus(t));
            gate.Open();
            Assert.True(await obj.TaskWaitAsync(t, TimeSpan.FromSeconds(60)));
            Assert.Equal("done", obj.TaskProgress(t));
            if (separate)
            {
                Assert.DoesNotContain(obj.TaskLog(t), l => l.Contains("rrq-progress", StringComparison.Ordinal));
            }
            obj.TaskDelete(t);
            Assert.Throws<RrqException>(() => obj.TaskProgress(t));      // MISSING, progress gone with it
            Assert.False(await RedisServer.Instance.Connection.GetDatabase().HashExistsAsync($"{{{q.QueueId}}}:task:progress", t));
        }
        finally
        {
            await cts.CancelAsync();
            await loop;
        }
    }

    [Fact]
    public async Task Outside_a_task_progress_does_nothing_or_throws_when_asked_and_a_value_that_cannot_be_stored_fails_the_task()
    {
        RrqTask.Progress(0.1);                                                  // a REPL calling an environment function
        var e = Assert.Throws<InvalidOperationException>(() => RrqTask.Progress(0.1, error: true));
        Assert.Contains("outside a running task", e.Message);

        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var t = obj.TaskCreateExpr("RrqTask.Progress(new System.Threading.CancellationTokenSource()); 1");
        var w = await q.WorkerAsync();
        Assert.Equal(RrqTaskStatus.Error, (await w.StepAsync()).Status);
        var error = (RrqTaskError)obj.TaskResult(t)!;
        Assert.Equal(typeof(RrqValueException).FullName, error.ExceptionType);
        Assert.Contains("CancellationTokenSource", error.Message);
        var missing = Assert.Throws<RrqException>(() => obj.TaskProgress("no-such-task"));
        Assert.Contains("MISSING", missing.Message);
    }
}
