using Rrq.Scripts;
using Rrq.Tests.Support;
using Rrq.Workers;
using StackExchange.Redis;

namespace Rrq.Tests.Faults;

/// <summary>
/// Scripts repeated after a lost reply: Redis applied the first try, its answer never arrived, and the
/// retry layer sends the same call again. The repeat must change nothing and answer as the first did
/// (claims and finishes through their token; the others by checking what the first try left).
/// </summary>
[Trait(RedisServer.OnGarnet, "yes")]
public class RepeatedCallTests
{
    private static TaskOutcome Complete(RrqController obj, object value) => new(RrqTaskStatus.Complete, obj.Values.Serialize(value), null);

    private static int Count(RrqController obj, string worker, string command, string taskId) =>
        obj.WorkerLogTail(worker, 0).Count(l => l.Command == command && l.Message.StartsWith(taskId, StringComparison.Ordinal));

    [Fact]
    public async Task A_claim_repeated_with_its_token_returns_the_same_task_and_takes_no_other()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var w = await q.WorkerAsync("claimer");
        var a = obj.TaskCreateExpr("1");
        var b = obj.TaskCreateExpr("2");

        var first = await obj.Queue.ClaimAsync(w.Id, ["default"], "tok-1");
        var again = await obj.Queue.ClaimAsync(w.Id, ["default"], "tok-1");
        Assert.Equal(ClaimKind.Task, first.Kind);
        Assert.Equal(a, first.Task!.Id);
        Assert.Equal(ClaimKind.Task, again.Kind);
        Assert.Equal(a, again.Task!.Id);
        Assert.Equal([b], obj.QueueList());
        Assert.Equal(RrqTaskStatus.Pending, obj.TaskStatus(b));
        Assert.Equal(1, Count(obj, w.Id, "TASK_START", a));
    }

    [Fact]
    public async Task A_message_taken_by_a_claim_whose_reply_was_lost_is_handed_out_again_not_dropped()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var w = await q.WorkerAsync("listener");
        var id = obj.MessageSend("PING");
        var first = await obj.Queue.ClaimAsync(w.Id, ["default"], "tok-1");
        var again = await obj.Queue.ClaimAsync(w.Id, ["default"], "tok-1");
        Assert.Equal(ClaimKind.Message, first.Kind);
        Assert.Equal(first.Message, again.Message);
        Assert.Contains(id, again.Message);
        var next = await obj.Queue.ClaimAsync(w.Id, ["default"], "tok-2");
        Assert.Equal(ClaimKind.Idle, next.Kind);   // a new claim: the message was taken once
    }

    [Fact]
    public async Task A_finish_repeated_after_a_lost_reply_writes_once_and_returns_the_same_next_task()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var w = await q.WorkerAsync("finisher");
        var a = obj.TaskCreateExpr("1");
        var b = obj.TaskCreateExpr("2");
        var c = obj.TaskCreateExpr("3");
        await obj.Queue.ClaimAsync(w.Id, ["default"], "tok-1");

        var done = Complete(obj, 42);
        var (first, _) = await obj.Queue.FinishAsync(a, w.Id, done, "tok-1", 1, "tok-2", ["default"]);
        var (again, _) = await obj.Queue.FinishAsync(a, w.Id, done, "tok-1", 1, "tok-2", ["default"]);
        Assert.Equal(1, first.Written);
        Assert.Equal(2, again.Written);   // recorded already: nothing written twice
        Assert.Equal(b, first.Next!.Task!.Id);
        Assert.Equal(b, again.Next!.Task!.Id);   // the same next task, not c
        Assert.Equal([c], obj.QueueList());
        Assert.Equal(42, obj.TaskResult(a));
        Assert.Equal(RrqTaskStatus.Running, obj.TaskStatus(b));
        Assert.Equal(1, Count(obj, w.Id, "TASK_COMPLETE", a));
        Assert.Equal(1, Count(obj, w.Id, "TASK_START", b));
    }

    [Fact]
    public async Task An_outcome_recorded_under_a_claim_that_is_no_longer_the_tasks_is_dropped()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var w = await q.WorkerAsync("stale");
        var a = obj.TaskCreateExpr("1");
        await obj.Queue.ClaimAsync(w.Id, ["default"], "tok-1");
        // Redis says the worker runs a, yet the worker asks for work: a goes back and is taken again, under tok-2.
        var second = await obj.Queue.ClaimAsync(w.Id, ["default"], "tok-2");
        Assert.Equal(a, second.Task!.Id);
        Assert.Equal(-1, (await obj.Queue.FinishAsync(a, w.Id, Complete(obj, 1), "tok-1", 0, "tok-3", ["default"])).Reply.Written);
        Assert.Equal(RrqTaskStatus.Running, obj.TaskStatus(a));
        Assert.Equal(1, (await obj.Queue.FinishAsync(a, w.Id, Complete(obj, 2), "tok-2", 0, "tok-3", ["default"])).Reply.Written);
        Assert.Equal(2, obj.TaskResult(a));
    }

    [Fact]
    public async Task A_task_Redis_says_a_worker_runs_goes_back_to_the_front_of_its_queue_when_that_worker_asks_for_work()
    {
        // What a Redis crash with appendfsync everysec can leave: the worker's finish of a (and its claim of the
        // next task) were acknowledged, then lost; Redis wakes up with a RUNNING on a worker that has moved on.
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var w = await q.WorkerAsync("rewound");
        var a = obj.TaskCreateExpr("10");
        var b = obj.TaskCreateExpr("20");
        await obj.Queue.ClaimAsync(w.Id, ["default"], "tok-1");
        Assert.Equal(RrqTaskStatus.Running, obj.TaskStatus(a));

        var step = await w.StepAsync();   // the worker itself, idle, asks for work
        Assert.Equal(a, step.TaskId);
        Assert.Equal(RrqTaskStatus.Complete, step.Status);
        Assert.Equal(10, obj.TaskResult(a));
        Assert.Equal(1, Count(obj, w.Id, "TASK_RETURNED", a));
        Assert.Equal([b], obj.QueueList());
        Assert.Equal(RrqWorkerStatus.Idle, obj.WorkerStatus(w.Id));
    }

    [Fact]
    public async Task A_submission_repeated_after_a_lost_reply_stores_its_task_once_and_succeeds()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var id = RrqController.NewTaskId();
        var payload = MemoryPack.MemoryPackSerializer.Serialize(new Rrq.Tasks.TaskPayload { Expression = "1 + 1" });
        RedisValue[] head = ["default", "TRUE", "", (string)obj.Keys.QueueChannel("default")!, (string)obj.Keys.TaskCompleteChannel!, "", "", 0];
        RedisValue[] task = [id, payload, ""];
        var first = await obj.Queue.TaskSubmitAsync("default", head, task, "", "", "", null, 0, default);
        var again = await obj.Queue.TaskSubmitAsync("default", head, task, "", "", "", null, 0, default);
        Assert.Equal("PENDING", first.Detail);
        Assert.Equal(1, again.Code);
        Assert.Equal("REPEATED", again.Detail);
        Assert.Equal([id], obj.QueueList());
        Assert.Equal([id], obj.TaskList());
    }

    [Fact]
    public async Task A_cancel_repeated_after_a_lost_reply_answers_as_its_first_try_and_a_new_cancel_finds_nothing_to_do()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var t = obj.TaskCreateExpr("1");
        // The same call sent twice (its first reply lost): both say it was cancelled.
        Assert.Equal(CancelOutcome.Cancelled, (await obj.Queue.TaskCancelAsync(t, "default", "call-1", default)).Outcome);
        var cancelledAt = obj.TaskTimes([t])[0].Complete;
        Assert.Equal(CancelOutcome.Cancelled, (await obj.Queue.TaskCancelAsync(t, "default", "call-1", default)).Outcome);
        // Another call: nothing to do, and nothing written (the completion time stays the first call's).
        var other = await obj.Queue.TaskCancelAsync(t, "default", "call-2", default);
        Assert.Equal(new CancelReply(CancelOutcome.NothingToDo, "CANCELLED"), other);
        Assert.False(obj.TaskCancel(t));
        Assert.Equal(cancelledAt, obj.TaskTimes([t])[0].Complete);
        Assert.Equal(RrqTaskStatus.Cancelled, obj.TaskStatus(t));
        Assert.Empty(obj.QueueList());
    }

    [Fact]
    public async Task A_retry_repeated_after_a_lost_reply_makes_one_new_task_and_succeeds()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var t = obj.TaskCreateExpr("1");
        var w = await q.WorkerAsync();
        await w.StepAsync();
        var @new = RrqController.NewTaskId();
        Assert.Equal(new RetryReply(1, 0, null, null, 0), await obj.Queue.TaskRetryAsync([(t, t, @new, "default")], default));
        Assert.Equal(new RetryReply(1, 0, null, null, 0), await obj.Queue.TaskRetryAsync([(t, t, @new, "default")], default));
        Assert.Equal([@new], obj.TaskInfo(t).Moved.Down);
        Assert.Equal([@new], obj.QueueList());
        Assert.Equal(2, obj.TaskList().Count);
    }

    [Fact]
    public async Task A_registration_repeated_after_a_lost_reply_succeeds_and_another_process_with_the_id_is_refused()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var w = await q.WorkerAsync("registered");
        var info = (string)(await RedisServer.Instance.Connection.GetDatabase().HashGetAsync($"{{{q.QueueId}}}:worker:info", w.Id))!;
        Assert.Equal(1, await obj.Queue.WorkerRegisterAsync(w.Id, info, null, rejoin: false));
        Assert.Equal(-1, await obj.Queue.WorkerRegisterAsync(w.Id, info.Replace("\"Pid\":", "\"Pid\":1", StringComparison.Ordinal), null, rejoin: false));
    }

    [Fact]
    public async Task A_message_sent_again_after_a_lost_reply_is_queued_once()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var w = await q.WorkerAsync("listener");
        const string message = "{\"Id\":\"1.000001.abcd\",\"Command\":\"PING\",\"Args\":null}";
        Assert.Null(await obj.Queue.MessageSendAsync(message, [w.Id]));
        Assert.Null(await obj.Queue.MessageSendAsync(message, [w.Id]));
        Assert.Equal(1, await RedisServer.Instance.Connection.GetDatabase().ListLengthAsync($"{{{q.QueueId}}}:worker:{w.Id}:message"));
    }
}
