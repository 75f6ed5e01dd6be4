using Rrq.Keys;

namespace Rrq.Tests.Keys;

public class RrqKeysTests
{
    [Fact]
    public void Every_key_of_a_queue_starts_with_its_hash_tag_and_follows_rrqs_layout()
    {
        var k = new RrqKeys("rrq:abc");
        Assert.Equal("{rrq:abc}:version", (string)k.Version!);
        Assert.Equal("{rrq:abc}:envir", (string)k.Envir!);
        Assert.Equal("{rrq:abc}:worker:config", (string)k.WorkerConfig!);
        Assert.Equal("{rrq:abc}:worker:id", (string)k.WorkerId!);
        Assert.Equal("{rrq:abc}:worker:status", (string)k.WorkerStatus!);
        Assert.Equal("{rrq:abc}:worker:task", (string)k.WorkerTask!);
        Assert.Equal("{rrq:abc}:worker:info", (string)k.WorkerInfo!);
        Assert.Equal("{rrq:abc}:worker:process", (string)k.WorkerProcess!);
        Assert.Equal("{rrq:abc}:worker:w1:log", (string)k.WorkerLog("w1")!);
        Assert.Equal("{rrq:abc}:worker:w1:message", (string)k.WorkerMessage("w1")!);
        Assert.Equal("{rrq:abc}:worker:w1:response", (string)k.WorkerResponse("w1")!);
        Assert.Equal("{rrq:abc}:worker:w1:heartbeat", (string)k.WorkerHeartbeat("w1")!);
        Assert.Equal("{rrq:abc}:queue:default", (string)k.Queue("default")!);
        Assert.Equal("{rrq:abc}:queue_skip", (string)k.QueueSkip!);
        Assert.Equal("{rrq:abc}:queue_skip_count", (string)k.QueueSkipCount!);
        Assert.Equal("{rrq:abc}:queue_front", (string)k.QueueFront!);
        Assert.Equal("{rrq:abc}:destroyed", (string)k.Destroyed!);
        Assert.Equal("{rrq:abc}:task:expr", (string)k.TaskExpr!);
        Assert.Equal("{rrq:abc}:task:status", (string)k.TaskStatus!);
        Assert.Equal("{rrq:abc}:task:queue", (string)k.TaskQueue!);
        Assert.Equal("{rrq:abc}:task:local", (string)k.TaskLocal!);
        Assert.Equal("{rrq:abc}:task:timeout", (string)k.TaskTimeout!);
        Assert.Equal("{rrq:abc}:task:worker", (string)k.TaskWorker!);
        Assert.Equal("{rrq:abc}:task:pid", (string)k.TaskPid!);
        Assert.Equal("{rrq:abc}:task:result", (string)k.TaskResult!);
        Assert.Equal("{rrq:abc}:task:time_submit", (string)k.TaskTimeSubmit!);
        Assert.Equal("{rrq:abc}:task:time_start", (string)k.TaskTimeStart!);
        Assert.Equal("{rrq:abc}:task:time_complete", (string)k.TaskTimeComplete!);
        Assert.Equal("{rrq:abc}:task:time_moved", (string)k.TaskTimeMoved!);
        Assert.Equal("{rrq:abc}:task:moved_to", (string)k.TaskMovedTo!);
        Assert.Equal("{rrq:abc}:task:moved_root", (string)k.TaskMovedRoot!);
        Assert.Equal("{rrq:abc}:task:claim", (string)k.TaskClaim!);
        Assert.Equal("{rrq:abc}:task:reason", (string)k.TaskReason!);
        Assert.Equal("{rrq:abc}:worker:claim", (string)k.WorkerClaim!);
        Assert.Equal("{rrq:abc}:channel:task_complete", k.TaskCompleteChannel.ToString());
        Assert.Equal("{rrq:abc}:channel:queue:short", k.QueueChannel("short").ToString());
        Assert.Equal("{rrq:abc}:channel:worker:w1", k.WorkerChannel("w1").ToString());
        Assert.Equal("{rrq:abc}:channel:workers", k.WorkersChannel.ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("has space")]
    [InlineData("brace{")]
    [InlineData("brace}")]
    [InlineData("tab\there")]
    public void A_queue_id_that_would_break_the_key_schema_is_refused_with_the_reason(string bad)
    {
        var e = Assert.Throws<ArgumentException>(() => new RrqKeys(bad));
        Assert.Contains($"Invalid queue id '{bad}'", e.Message);
        Assert.Contains("without braces or white space", e.Message);
    }

    [Theory]
    [InlineData("a:b")]
    [InlineData("x y")]
    [InlineData("{q}")]
    public void A_queue_name_may_not_contain_colons_braces_or_spaces(string bad)
    {
        var e = Assert.Throws<ArgumentException>(() => QueueIdValidation.CheckName(bad, "queue name", "queue"));
        Assert.Contains($"Invalid queue name '{bad}'", e.Message);
    }
}
