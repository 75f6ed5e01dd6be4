using Rrq.Scripts;
using Rrq.Tests.Support;
using StackExchange.Redis;

namespace Rrq.Tests.Workers;

/// <summary>A task submitted while a worker is parked (idle, waiting) is handed to it directly (include/handoff.lua):
/// PENDING, held by that worker and in no queue list, until the worker takes it up (task_ack.lua) and runs it. A worker
/// that dies or leaves before taking it up loses nothing; a cancel, a delete or the worker's own claim in between leave
/// the task run once, or not at all.</summary>
[Trait(RedisServer.OnGarnet, "yes")]
public class HandoffTests
{
    private static IDatabase Db => RedisServer.Instance.Connection.GetDatabase();

    /// <summary>An in-process worker whose last claim found nothing: it is in its queue's idle set, as a parked
    /// worker is (without its loop running, it takes a hand-off only when the test steps it).</summary>
    private static async Task<RrqWorker> ParkedAsync(TestQueue q, string name)
    {
        var w = await q.WorkerAsync(name);
        Assert.Equal(RrqWorkerStepKind.Idle, (await w.StepAsync()).Kind);
        Assert.True(await Db.SetContainsAsync($"{{{q.QueueId}}}:idle:default", w.Id));
        return w;
    }

    private static async Task<string?> HeldAsync(TestQueue q, string workerId) =>
        await Db.HashGetAsync($"{{{q.QueueId}}}:worker:task", workerId);

    [Fact]
    public async Task A_task_submitted_to_a_parked_worker_is_held_by_it_pending_until_it_takes_it_up_and_runs_it()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var w = await ParkedAsync(q, "parked");

        var t = obj.TaskCreateExpr("x * 2", new { x = 21 });
        // Handed over: in no queue list, held by the worker, not started.
        Assert.Equal(RrqTaskStatus.Pending, obj.TaskStatus(t));
        Assert.Empty(obj.QueueList());
        Assert.Equal(0, obj.QueueLength());
        Assert.Equal($"{t}@h.{t}", await HeldAsync(q, w.Id));
        Assert.Equal(w.Id, obj.TaskInfo(t).Worker);
        Assert.Null(obj.TaskTimes(t).Start);
        Assert.Equal(RrqWorkerStatus.Busy, obj.WorkerStatus(w.Id));
        Assert.False(await Db.SetContainsAsync($"{{{q.QueueId}}}:idle:default", w.Id));
        Assert.DoesNotContain(obj.WorkerLogTail(w.Id, 0), l => l.Command == "TASK_START");

        var step = await w.StepAsync();
        Assert.Equal(t, step.TaskId);
        Assert.Equal(42, obj.TaskResult(t));
        Assert.NotNull(obj.TaskTimes(t).Start);
        Assert.Single(obj.WorkerLogTail(w.Id, 0), l => l.Command == "TASK_START" && l.Message == t);
        Assert.Single(obj.WorkerLogTail(w.Id, 0), l => l.Command == "TASK_COMPLETE" && l.Message == t);
        Assert.Null(await HeldAsync(q, w.Id));
        Assert.Equal(RrqWorkerStatus.Idle, obj.WorkerStatus(w.Id));
    }

    [Fact]
    public async Task A_bulk_submission_hands_its_first_task_to_the_parked_worker_and_queues_the_rest_in_order()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var w = await ParkedAsync(q, "parked");
        var ids = obj.TaskCreateBulkExpr("i", Enumerable.Range(0, 5).Select(i => new { i })).ToArray();
        Assert.Equal(ids[1..], obj.QueueList());
        Assert.Equal($"{ids[0]}@h.{ids[0]}", await HeldAsync(q, w.Id));
        // A second submission finds the worker busy: queued behind the others.
        var late = obj.TaskCreateExpr("5");
        Assert.Equal([.. ids[1..], late], obj.QueueList());
        for (var i = 0; i < 6; i++)
        {
            Assert.Equal(i < 5 ? ids[i] : late, (await w.StepAsync()).TaskId);
        }
        Assert.Equal([0, 1, 2, 3, 4, 5], obj.TaskResults([.. ids, late]).Cast<int>());
    }

    [Fact]
    public async Task A_handed_task_cancelled_before_its_worker_takes_it_up_is_never_run_and_leaves_no_mark_on_the_queue()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var w = await ParkedAsync(q, "parked");
        var t = obj.TaskCreateExpr("RrqTask.Progress(1); 1");
        Assert.True(obj.TaskCancel(t));
        Assert.Equal(RrqTaskStatus.Cancelled, obj.TaskStatus(t));
        Assert.Equal(0, obj.QueueLength());   // not counted as a queued id to skip: it was in no list

        // Its take-up fails (or the claim it makes finds the hand-off undone): not run, and the worker is parked again.
        Assert.Equal(RrqWorkerStepKind.Idle, (await w.StepAsync()).Kind);
        Assert.Equal(RrqTaskStatus.Cancelled, obj.TaskStatus(t));
        Assert.Null(obj.TaskProgress(t));
        Assert.DoesNotContain(obj.WorkerLogTail(w.Id, 0), l => l.Message == t);
        Assert.Null(await HeldAsync(q, w.Id));
        Assert.Equal(RrqWorkerStatus.Idle, obj.WorkerStatus(w.Id));
        var next = obj.TaskCreateExpr("2");
        Assert.Equal($"{next}@h.{next}", await HeldAsync(q, w.Id));
        Assert.Equal(next, (await w.StepAsync()).TaskId);
        Assert.Equal(2, obj.TaskResult(next));
    }

    [Fact]
    public async Task A_handed_task_deleted_or_removed_from_its_queue_before_it_is_taken_up_is_never_run()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var w = await ParkedAsync(q, "parked");
        var deleted = obj.TaskCreateExpr("RrqTask.Progress(1); 1");
        obj.TaskDelete(deleted);
        Assert.Equal(RrqTaskStatus.Missing, obj.TaskStatus(deleted));
        Assert.Equal(RrqWorkerStepKind.Idle, (await w.StepAsync()).Kind);
        Assert.Equal(0, obj.QueueLength());
        Assert.Equal(RrqWorkerStatus.Idle, obj.WorkerStatus(w.Id));

        var removed = obj.TaskCreateExpr("RrqTask.Progress(1); 2");
        Assert.Equal([true], obj.QueueRemove([removed]));
        Assert.Equal(RrqTaskStatus.Cancelled, obj.TaskStatus(removed));
        Assert.Equal(RrqWorkerStepKind.Idle, (await w.StepAsync()).Kind);
        Assert.Null(obj.TaskProgress(removed));
        Assert.Equal(0, obj.QueueLength());
    }

    [Fact]
    public async Task A_claim_of_the_worker_that_comes_before_the_hand_off_message_takes_the_task_and_a_late_take_up_fails()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var w = await ParkedAsync(q, "parked");
        var t = obj.TaskCreateExpr("3");
        // The worker's own claim (its poll, say, or a claim after a lost message) reaches Redis first: it takes the task
        // handed to the worker, RUNNING under that claim's token.
        var claimed = await obj.Queue.ClaimAsync(w.Id, ["default"], "claim-1");
        Assert.Equal(ClaimKind.Task, claimed.Kind);
        Assert.Equal(t, claimed.Task!.Id);
        Assert.Equal(RrqTaskStatus.Running, obj.TaskStatus(t));
        Assert.Equal($"{t}@claim-1", await HeldAsync(q, w.Id));
        Assert.Single(obj.WorkerLogTail(w.Id, 0), l => l.Command == "TASK_START" && l.Message == t);
        // The hand-off's message, arriving after that, is not taken up: the task is not run a second time.
        Assert.Null(await obj.Queue.TaskAckAsync(t, w.Id, "late-token", ["default"]));
        Assert.Equal($"{t}@claim-1", await HeldAsync(q, w.Id));
        Assert.Equal("claim-1", (string?)await Db.HashGetAsync($"{{{q.QueueId}}}:task:claim", t));
        var other = obj.TaskCreateExpr("4");
        Assert.Equal([other], obj.QueueList());   // the worker is busy: queued
    }

    [Fact]
    public async Task A_take_up_makes_the_task_running_once_and_a_repeat_of_it_after_a_lost_reply_says_the_same()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var w = await ParkedAsync(q, "parked");
        var t = obj.TaskCreateExpr("5");
        Assert.Equal(0, await obj.Queue.TaskAckAsync(t, w.Id, "ack-1", ["default"]));   // in-process: no children to start
        Assert.Equal(RrqTaskStatus.Running, obj.TaskStatus(t));
        Assert.NotNull(obj.TaskTimes(t).Start);
        Assert.Equal($"{t}@ack-1", await HeldAsync(q, w.Id));
        Assert.Equal(0, await obj.Queue.TaskAckAsync(t, w.Id, "ack-1", ["default"]));
        Assert.Null(await obj.Queue.TaskAckAsync(t, "someone_else", "ack-2", ["default"]));
        Assert.Single(obj.WorkerLogTail(w.Id, 0), l => l.Command == "TASK_START" && l.Message == t);
    }

    [Fact]
    public async Task Taking_up_a_separate_process_task_handed_over_tells_how_many_separate_tasks_wait_behind_it()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var w = await ParkedAsync(q, "parked");
        // Submitted together: the first is handed to the parked worker, the others queue behind it, three of them
        // separate-process. The worker starts their processes while the first runs, as after a claim of its own.
        var ids = obj.TaskCreateBulkExpr("n", Enumerable.Range(0, 4).Select(i => (object)new { n = i }), separateProcess: true);
        var inProcess = obj.TaskCreateExpr("5");
        Assert.Equal([ids[1], ids[2], ids[3], inProcess], obj.QueueList());
        Assert.Equal(3, await obj.Queue.TaskAckAsync(ids[0], w.Id, "ack-1", ["default"]));
        Assert.Equal(3, await obj.Queue.TaskAckAsync(ids[0], w.Id, "ack-1", ["default"]));   // a repeat counts again
    }

    [Fact]
    public async Task A_worker_that_stops_before_taking_up_a_task_handed_to_it_puts_it_back_at_the_front_of_its_queue()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var w = await ParkedAsync(q, "parked");
        var t = obj.TaskCreateExpr("4");
        await w.StopAsync();
        Assert.Equal(RrqTaskStatus.Pending, obj.TaskStatus(t));
        Assert.Equal([t], obj.QueueList());
        Assert.Null(obj.TaskInfo(t).Worker);
        Assert.Contains(obj.WorkerLogTail(w.Id, 0), l => l.Command == "TASK_RETURNED" && l.Message == t);
        Assert.DoesNotContain(obj.WorkerLogTail(w.Id, 0), l => l.Command == "TASK_DIED");
        var other = await q.WorkerAsync("other");
        Assert.Equal(t, (await other.StepAsync()).TaskId);
        Assert.Equal(4, obj.TaskResult(t));
    }

    [Fact]
    public async Task A_worker_process_killed_while_parked_loses_nothing_handed_to_it_and_another_worker_runs_it()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        obj.WorkerConfigSave("hb", new RrqWorkerConfig { HeartbeatPeriod = TimeSpan.FromSeconds(1) });
        var spawn = await q.SpawnAsync(1, "hb");
        var dead = spawn.Ids[0];
        Assert.Equal(1, obj.TaskResult(await RunAsync(obj, "1")));   // it is up, and parked again after that task
        await Poll.Until(async () => await Db.SetContainsAsync($"{{{q.QueueId}}}:idle:default", dead), 10);

        spawn.Kill(dead);   // SIGKILL, unseen until its heartbeat expires
        var t = obj.TaskCreateExpr("2");
        Assert.Equal($"{t}@h.{t}", await HeldAsync(q, dead));   // handed to the dead worker
        Assert.Equal(RrqTaskStatus.Pending, obj.TaskStatus(t));

        await Poll.Until(async () => !await Db.KeyExistsAsync($"{{{q.QueueId}}}:worker:{dead}:heartbeat"), 10);
        var found = obj.WorkerDetectExited();
        Assert.Equal([dead], found.LostWorkers);
        Assert.False(found.OrphanedTaskIds.ContainsKey(dead));   // it never started: not DIED
        Assert.Equal(RrqTaskStatus.Pending, obj.TaskStatus(t));
        Assert.Equal([t], obj.QueueList());
        Assert.Contains(obj.WorkerLogTail(dead, 0), l => l.Command == "TASK_RETURNED" && l.Message == t);

        await q.SpawnAsync(1, "hb");
        Assert.True(await obj.TaskWaitAsync(t, TimeSpan.FromSeconds(60)));
        Assert.Equal(2, obj.TaskResult(t));
    }

    [Fact]
    public async Task Tasks_submitted_back_to_back_to_a_running_worker_all_complete_with_their_values()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        await q.SpawnAsync(1);
        for (var i = 0; i < 200; i++)
        {
            var t = obj.TaskCreateExpr("i * i", new { i });
            Assert.True(await obj.TaskWaitAsync(t, TimeSpan.FromSeconds(30)));
            Assert.Equal(i * i, obj.TaskResult(t));
        }
    }

    private static async Task<string> RunAsync(RrqController obj, string expr)
    {
        var t = obj.TaskCreateExpr(expr);
        Assert.True(await obj.TaskWaitAsync(t, TimeSpan.FromSeconds(60)));
        return t;
    }
}
