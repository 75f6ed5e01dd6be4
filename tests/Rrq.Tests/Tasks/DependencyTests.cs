using StackExchange.Redis;
using Rrq.Tests.Support;

namespace Rrq.Tests.Tasks;

[Trait(RedisServer.OnGarnet, "yes")]
public class DependencyTests
{
    /// <summary>task_submit.lua's head of ARGV for queue "default", its dependencies listed (none: linked later).</summary>
    private static RedisValue[] SubmitHead(RrqController obj, params string[] deps) =>
        ["default", "TRUE", "", (string)obj.Keys.QueueChannel("default")!, (string)obj.Keys.TaskCompleteChannel!, "", "", deps.Length,
            .. deps.Select(d => (RedisValue)d)];

    /// <summary>One task of a submission: its id, its payload, no offloaded locals.</summary>
    private static RedisValue[] SubmitTask(string id, string expr) =>
        [id, MemoryPack.MemoryPackSerializer.Serialize(new Rrq.Tasks.TaskPayload { Expression = expr }), ""];

    [Fact]
    public async Task A_dependent_is_deferred_until_its_dependency_completes_then_runs_first_in_its_queue()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var a = obj.TaskCreateExpr("1");
        var other = obj.TaskCreateExpr("2");
        var b = obj.TaskCreateExpr("3", dependsOn: [a]);
        Assert.Equal(RrqTaskStatus.Deferred, obj.TaskStatus(b));
        var w = await q.WorkerAsync();
        Assert.Equal(a, (await w.StepAsync()).TaskId);
        Assert.Equal(RrqTaskStatus.Pending, obj.TaskStatus(b));
        // Released to the front: it runs before the task that was queued earlier.
        Assert.Equal(b, (await w.StepAsync()).TaskId);
        Assert.Equal(other, (await w.StepAsync()).TaskId);
        Assert.Equal(3, obj.TaskResult(b));
    }

    [Fact]
    public async Task A_task_whose_dependencies_have_all_completed_is_queued_at_the_front_and_released_ones_keep_their_order()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var a = obj.TaskCreateExpr("1");
        var w = await q.WorkerAsync();
        await w.StepAsync();
        var queued = obj.TaskCreateExpr("2");
        // Its dependency is COMPLETE already: to the front, as a release would have put it (rrq does the same), and behind
        // what was sent to the front before it (rrq would put the last first).
        var late = obj.TaskCreateExpr("3", dependsOn: [a]);
        var lateBulk = obj.TaskCreateBulkExpr("i", Enumerable.Range(0, 3).Select(i => new { i }), dependsOn: [a]);
        Assert.Equal([late, .. lateBulk, queued], obj.QueueList());

        // Released together by one completion: at the front, first submitted first.
        var gate = obj.TaskCreateExpr("0");
        var held = obj.TaskCreateBulkExpr("i", Enumerable.Range(0, 4).Select(i => new { i }), dependsOn: [gate]);
        var single = obj.TaskCreateExpr("9", dependsOn: [gate]);
        while (obj.TaskStatus(gate) != RrqTaskStatus.Complete)
        {
            await w.StepAsync();
        }
        Assert.Equal([.. held, single], obj.QueueList().Take(5));
    }

    [Fact]
    public async Task Tasks_sent_to_the_front_one_after_another_run_in_that_order_on_a_worker_process()
    {
        // As a user meets it: a worker process busy with a task while the user submits ordinary tasks, then tasks whose
        // dependency has completed (to the front), and a task released by a completion (to the front, behind them).
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        await q.SpawnAsync();
        var done = obj.TaskCreateExpr("1");
        Assert.True(obj.TaskWait(done, TimeSpan.FromSeconds(60)));
        using var gate = new Gate();
        var blocker = obj.TaskCreateExpr(Gate.Wait + " 0", gate.Locals);
        await Poll.Until(async () => await obj.TaskStatusAsync(blocker) == RrqTaskStatus.Running, 60);
        var ordinary = obj.TaskCreateBulkExpr("i", Enumerable.Range(0, 2).Select(i => new { i }));
        var front = Enumerable.Range(0, 3).Select(i => obj.TaskCreateExpr("i", new { i }, dependsOn: [done])).ToArray();
        Assert.Equal([.. front, .. ordinary], obj.QueueList());
        gate.Open();
        Assert.True(obj.TaskWait([.. front, .. ordinary], TimeSpan.FromSeconds(60)));
        var started = obj.TaskTimes([.. front, .. ordinary]).OrderBy(t => t.Start).Select(t => t.TaskId);
        Assert.Equal([.. front, .. ordinary], started);
    }

    [Fact]
    public async Task Dependents_released_by_one_completion_and_then_another_run_first_released_first()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        // The dependencies run on another queue, so nothing of the default queue is claimed between the two releases.
        obj.WorkerConfigSave("other", new RrqWorkerConfig { Queues = ["other"] });
        var w = await q.WorkerAsync(config: "other");
        var (g1, g2) = (obj.TaskCreateExpr("1", queue: "other"), obj.TaskCreateExpr("2", queue: "other"));
        var tail = obj.TaskCreateExpr("3");
        var d1 = obj.TaskCreateBulkExpr("i", Enumerable.Range(0, 2).Select(i => new { i }), dependsOn: [g1]);
        var d2 = obj.TaskCreateExpr("5", dependsOn: [g2]);
        Assert.Equal(g1, (await w.StepAsync()).TaskId);
        Assert.Equal(g2, (await w.StepAsync()).TaskId);
        Assert.Equal([.. d1, d2, tail], obj.QueueList());
        var d3 = obj.TaskCreateExpr("6", dependsOn: [g1, g2]);
        Assert.Equal([.. d1, d2, d3, tail], obj.QueueList());
        var runner = await q.WorkerAsync();
        foreach (var expected in (string[])[.. d1, d2, d3, tail])
        {
            Assert.Equal(expected, (await runner.StepAsync()).TaskId);
        }
        // The front is empty again: a release now goes first of all.
        var g3 = obj.TaskCreateExpr("7", queue: "other");
        var later = obj.TaskCreateExpr("8");
        var d4 = obj.TaskCreateExpr("9", dependsOn: [g3]);
        await w.StepAsync();
        Assert.Equal([d4, later], obj.QueueList());
    }

    [Fact]
    public async Task A_bulk_submission_in_several_calls_is_refused_only_by_its_first_so_it_is_all_or_nothing()
    {
        // A bulk goes as several calls; between two of them a dependency can be retried or deleted.
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var w = await q.WorkerAsync();
        var failing = obj.TaskCreateExpr("int.Parse(\"x\")");
        var doomed = obj.TaskCreateExpr("1");
        await w.StepAsync();
        RedisValue[] Head(string dep) => SubmitHead(obj, dep);
        RedisValue[] Task(string id) => SubmitTask(id, "0");

        // The first call sees the failed dependency: IMPOSSIBLE. Then it is retried; the next call follows its chain.
        var (a, b) = (RrqController.NewTaskId(), RrqController.NewTaskId());
        var first = await obj.Queue.TaskSubmitAsync("default", Head(failing), Task(a), "", "", "", null, 0, default);
        Assert.Equal("IMPOSSIBLE", first.Detail);
        var retried = obj.TaskRetry(failing);
        Assert.Equal(RrqTaskStatus.Deferred, obj.TaskStatus(a));   // re-armed by the retry
        var second = await obj.Queue.TaskSubmitAsync("default", Head(failing), Task(b), "", "", "", null, 1000, default);
        Assert.Equal("DEFERRED", second.Detail);
        Assert.Equal([retried], obj.TaskInfo(b).Depends.Up);

        // A dependency deleted between the calls: the first call's tasks became IMPOSSIBLE, and so do the later ones.
        var (c, d) = (RrqController.NewTaskId(), RrqController.NewTaskId());
        await obj.Queue.TaskSubmitAsync("default", Head(doomed), Task(c), "", "", "", null, 0, default);
        obj.TaskDelete(doomed);
        var late = await obj.Queue.TaskSubmitAsync("default", Head(doomed), Task(d), "", "", "", null, 1000, default);
        Assert.Equal("IMPOSSIBLE", late.Detail);
        Assert.Equal([RrqTaskStatus.Impossible, RrqTaskStatus.Impossible], obj.TaskStatus([c, d]));
        // Only a submission's first call is refused for a missing dependency: nothing of it is written.
        var refused = await obj.Queue.TaskSubmitAsync("default", Head(doomed), Task(RrqController.NewTaskId()), "", "", "", null, 0, default);
        Assert.Equal(-5, refused.Code);
    }

    [Fact]
    public async Task A_task_with_thousands_of_dependents_releases_them_all_to_the_front_in_submission_order()
    {
        // More than one script releases: the worker carries the walk on before it takes its next task.
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var db = RedisServer.Instance.Connection.GetDatabase();
        var parent = obj.TaskCreateExpr("1");
        var other = obj.TaskCreateExpr("2");
        var children = obj.TaskCreateBulkExpr("i", Enumerable.Range(0, 1500).Select(i => (object)new { i }), dependsOn: [parent]);
        var both = obj.TaskCreateExpr("3", dependsOn: [parent, other]);
        var queued = obj.TaskCreateExpr("4");
        var w = await q.WorkerAsync();
        Assert.Equal(parent, (await w.StepAsync()).TaskId);
        Assert.Equal([.. children, other, queued], obj.QueueList());
        Assert.Equal(RrqTaskStatus.Deferred, obj.TaskStatus(both));   // still waits for the other
        Assert.Equal(0, await db.ListLengthAsync(obj.Keys.Release));
        Assert.Equal(children[0], (await w.StepAsync()).TaskId);
    }

    [Fact]
    public async Task A_task_on_thousands_of_dependencies_is_linked_to_them_in_slices_and_released_by_the_last()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var db = RedisServer.Instance.Connection.GetDatabase();
        var deps = obj.TaskCreateBulkExpr("i", Enumerable.Range(0, 2500).Select(i => (object)new { i }));
        var other = obj.TaskCreateExpr("-1");
        var t = obj.TaskCreateExpr("1", dependsOn: deps);   // 2,500 links: more than one script writes
        Assert.Equal(RrqTaskStatus.Deferred, obj.TaskStatus(t));
        Assert.Equal(2500, await db.SortedSetLengthAsync(obj.Keys.TaskDependsDown));
        Assert.Equal(deps, obj.TaskInfo(t).Depends.Up);
        Assert.Equal([t], obj.TaskInfo(deps[^1]).Depends.Down);
        var w = await q.WorkerAsync();
        for (var i = 0; i < deps.Count; i++)
        {
            await w.StepAsync();
        }
        Assert.Equal(RrqTaskStatus.Pending, obj.TaskStatus(t));
        Assert.Equal(t, (await w.StepAsync()).TaskId);   // released by the last, to the front
        Assert.Equal(other, (await w.StepAsync()).TaskId);
    }

    [Fact]
    public async Task A_bulk_with_many_links_refused_for_a_missing_dependency_leaves_no_task_and_no_link()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var db = RedisServer.Instance.Connection.GetDatabase();
        var deps = obj.TaskCreateBulkExpr("i", Enumerable.Range(0, 1200).Select(i => (object)new { i })).ToList();
        var ghost = RrqController.NewTaskId();
        deps.Insert(700, ghost);
        var e = Assert.Throws<RrqException>(() =>
            obj.TaskCreateBulkExpr("x", Enumerable.Range(0, 3).Select(x => (object)new { x }), dependsOn: deps));
        Assert.Contains(ghost, e.Message);
        Assert.Contains("Nothing was created", e.Message);
        Assert.Equal(0, await db.SortedSetLengthAsync(obj.Keys.TaskDependsDown));
        Assert.Equal(1200, obj.TaskList().Count);

        // Without the missing one: 3 × 1,200 links, each task DEFERRED; one dependency cancelled fails all three.
        deps.Remove(ghost);
        var tasks = obj.TaskCreateBulkExpr("x", Enumerable.Range(0, 3).Select(x => (object)new { x }), dependsOn: deps);
        Assert.Equal(3600, await db.SortedSetLengthAsync(obj.Keys.TaskDependsDown));
        Assert.All(obj.TaskStatus(tasks), st => Assert.Equal(RrqTaskStatus.Deferred, st));
        obj.TaskCancel(deps[1000]);
        Assert.All(obj.TaskStatus(tasks), st => Assert.Equal(RrqTaskStatus.Impossible, st));
    }

    [Fact]
    public async Task Dependencies_that_finish_while_a_task_is_being_linked_are_counted_once_and_a_died_client_is_finished_by_a_worker()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var deps = obj.TaskCreateBulkExpr("i", Enumerable.Range(0, 1500).Select(i => (object)new { i }));

        // Created to be linked later, then linked to its first 600 dependencies only.
        var t = RrqController.NewTaskId();
        await obj.Queue.TaskSubmitAsync("default", SubmitHead(obj), SubmitTask(t, "7"), "", "", "", deps, 0, default);
        Assert.Equal(RrqTaskStatus.Deferred, obj.TaskStatus(t));
        Assert.Equal(1, await obj.Queue.TaskLinkAsync("default", [t], 600, default));

        // Every dependency completes: the 600 linked ones through the release step, the rest before their link.
        // (A worker without a heartbeat: it never sweeps, so it does not finish the linking itself.)
        await obj.WorkerConfigSaveAsync("quiet", new RrqWorkerConfig { HeartbeatPeriod = null });
        var w = await q.WorkerAsync(config: "quiet");
        for (var i = 0; i < deps.Count; i++)
        {
            await w.StepAsync();
        }
        Assert.Equal(RrqTaskStatus.Deferred, obj.TaskStatus(t));
        Assert.Equal(900, (long)await RedisServer.Instance.Connection.GetDatabase().HashGetAsync(obj.Keys.TaskDependsLeft, t));

        // The submitting client "died" here: a sweeping worker links the rest, counts them, and releases the task.
        await obj.WorkerConfigSaveAsync("hb", new RrqWorkerConfig { HeartbeatPeriod = TimeSpan.FromMilliseconds(300) });
        await using var sweeper = await q.WorkerAsync(config: "hb");
        await Poll.Until(() => obj.TaskStatus(t) == RrqTaskStatus.Pending);
        Assert.Equal(t, (await w.StepAsync()).TaskId);
        Assert.Equal(7, obj.TaskResult(t));
        Assert.Equal(0, await RedisServer.Instance.Connection.GetDatabase().HashLengthAsync(obj.Keys.Linking));
    }

    [Fact]
    public async Task A_dependency_that_failed_before_its_link_makes_a_task_being_linked_impossible()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var deps = obj.TaskCreateBulkExpr("i", Enumerable.Range(0, 1500).Select(i => (object)new { i })).ToArray();
        var waiting = obj.TaskWaitAsync(
            obj.TaskCreateBulkExpr("x", Enumerable.Range(0, 2).Select(x => (object)new { x }), dependsOn: deps), TimeSpan.FromSeconds(30));
        obj.TaskCancel(deps[^1]);
        Assert.False(await waiting);   // IMPOSSIBLE, heard by the waiter
        var t = RrqController.NewTaskId();
        await obj.Queue.TaskSubmitAsync("default", SubmitHead(obj), SubmitTask(t, "0"), "", "", "", deps, 0, default);
        await obj.LinkAsync("default", [t], default);
        Assert.Equal(RrqTaskStatus.Impossible, obj.TaskStatus(t));
    }

    [Fact]
    public async Task Fan_in_waits_for_every_dependency_and_a_chain_runs_in_order()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var a = obj.TaskCreateExpr("1");
        var b = obj.TaskCreateExpr("2");
        var c = obj.TaskCreateExpr("3", dependsOn: [a, b]);
        var d = obj.TaskCreateExpr("4", dependsOn: [c]);
        var w = await q.WorkerAsync();
        await w.StepAsync();
        Assert.Equal(RrqTaskStatus.Deferred, obj.TaskStatus(c));
        var deferred = obj.DeferredList();
        Assert.Equal(new[] { c, d }.Order(), deferred.Keys.Order());
        Assert.Equal(RrqTaskStatus.Complete, deferred[c][a]);
        Assert.Equal(RrqTaskStatus.Pending, deferred[c][b]);
        Assert.Equal(RrqTaskStatus.Deferred, deferred[d][c]);
        await w.StepAsync();
        Assert.Equal(RrqTaskStatus.Pending, obj.TaskStatus(c));
        Assert.Equal(RrqTaskStatus.Deferred, obj.TaskStatus(d));
        Assert.Equal(c, (await w.StepAsync()).TaskId);
        Assert.Equal(d, (await w.StepAsync()).TaskId);
        Assert.True(obj.TaskWait([a, b, c, d], TimeSpan.FromSeconds(5)));

        var info = obj.TaskInfo(c);
        Assert.Equal(new[] { a, b }.Order(), info.Depends.Up.Order());
        Assert.Equal([d], info.Depends.Down);
        var dUp = obj.TaskInfo(d).Depends.Up;
        Assert.Equal(c, dUp[0]);                                  // nearest first
        Assert.Equal(new[] { a, b }.Order(), dUp.Skip(1).Order());
        Assert.Equal([c, d], obj.TaskInfo(a).Depends.Down);
    }

    [Fact]
    public async Task A_failure_makes_every_transitive_dependent_impossible_and_waiters_return()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var a = obj.TaskCreateExpr("throw new Exception(\"no\")");
        var b = obj.TaskCreateExpr("2", dependsOn: [a]);
        var c = obj.TaskCreateExpr("3", dependsOn: [b]);
        var unrelated = obj.TaskCreateExpr("4");
        var waiting = obj.TaskWaitAsync([c], TimeSpan.FromSeconds(30));
        var w = await q.WorkerAsync();
        await w.StepAsync();
        Assert.False(await waiting);
        Assert.Equal([RrqTaskStatus.Error, RrqTaskStatus.Impossible, RrqTaskStatus.Impossible, RrqTaskStatus.Pending],
            obj.TaskStatus([a, b, c, unrelated]));
        Assert.Equal("Task not successful: IMPOSSIBLE", ((RrqTaskError)obj.TaskResult(c)!).Message);
        Assert.Equal(unrelated, (await w.StepAsync()).TaskId);
        Assert.Equal(RrqWorkerStepKind.Idle, (await w.StepAsync()).Kind);
    }

    [Fact]
    public async Task Cancelling_a_task_makes_its_dependents_impossible_and_a_cancelled_dependent_stays_cancelled()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var a = obj.TaskCreateExpr("1");
        var b = obj.TaskCreateExpr("2", dependsOn: [a]);
        var c = obj.TaskCreateExpr("3", dependsOn: [a]);
        Assert.True(obj.TaskCancel(c));
        Assert.Equal(RrqTaskStatus.Cancelled, obj.TaskStatus(c));
        var w = await q.WorkerAsync();
        await w.StepAsync();
        // rrq resurrects a cancelled DEFERRED task when its dependency completes; here it stays cancelled.
        Assert.Equal(RrqTaskStatus.Cancelled, obj.TaskStatus(c));
        Assert.Equal(b, (await w.StepAsync()).TaskId);
        Assert.Equal(RrqWorkerStepKind.Idle, (await w.StepAsync()).Kind);

        var x = obj.TaskCreateExpr("5");
        var y = obj.TaskCreateExpr("6", dependsOn: [x]);
        Assert.True(obj.TaskCancel(x));
        Assert.Equal(RrqTaskStatus.Impossible, obj.TaskStatus(y));
    }

    [Fact]
    public async Task A_deleted_deferred_task_is_not_resurrected_and_the_worker_is_unaffected()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var a = obj.TaskCreateExpr("1");
        var b = obj.TaskCreateExpr("2", dependsOn: [a]);
        obj.TaskDelete([b]);
        var w = await q.WorkerAsync();
        Assert.Equal(a, (await w.StepAsync()).TaskId);
        Assert.Equal(RrqTaskStatus.Missing, obj.TaskStatus(b));
        Assert.Equal(RrqWorkerStepKind.Idle, (await w.StepAsync()).Kind);
        Assert.Empty(obj.TaskInfo(a).Depends.Down);
    }

    [Fact]
    public async Task Deleting_a_pending_dependency_makes_its_dependents_impossible()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var a = obj.TaskCreateExpr("1");
        var b = obj.TaskCreateExpr("2", dependsOn: [a]);
        obj.TaskDelete([a]);
        Assert.Equal(RrqTaskStatus.Impossible, obj.TaskStatus(b));
    }

    [Fact]
    public async Task Depending_on_finished_tasks_queues_at_once_or_is_impossible_at_once()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var ok = obj.TaskCreateExpr("1");
        var bad = obj.TaskCreateExpr("throw new Exception()");
        var w = await q.WorkerAsync();
        await w.StepAsync();
        await w.StepAsync();
        var after = obj.TaskCreateExpr("2", dependsOn: [ok]);
        Assert.Equal(RrqTaskStatus.Pending, obj.TaskStatus(after));
        var never = obj.TaskCreateExpr("3", dependsOn: [ok, bad]);
        Assert.Equal(RrqTaskStatus.Impossible, obj.TaskStatus(never));
        Assert.False(obj.TaskWait(never, TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public async Task Depending_on_a_missing_task_is_refused_naming_it_and_nothing_is_created()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var a = obj.TaskCreateExpr("1");
        var missing = new string('b', 32);
        var e = Assert.Throws<RrqException>(() => obj.TaskCreateExpr("2", dependsOn: [a, missing]));
        Assert.Contains($"'{missing}'", e.Message);
        Assert.Contains("Nothing was created", e.Message);
        Assert.Equal([a], obj.TaskList());
        Assert.Empty(obj.TaskInfo(a).Depends.Down);
    }

    [Fact]
    public async Task A_running_separate_process_task_killed_makes_its_dependents_impossible()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var w = await q.WorkerAsync();
        _ = w.RunAsync();
        var a = obj.TaskCreateExpr("System.Threading.Thread.Sleep(60_000)", separateProcess: true, timeout: TimeSpan.FromSeconds(1));
        var b = obj.TaskCreateExpr("2", dependsOn: [a]);
        Assert.False(await obj.TaskWaitAsync(b, TimeSpan.FromSeconds(60)));
        Assert.Equal([RrqTaskStatus.Timeout, RrqTaskStatus.Impossible], obj.TaskStatus([a, b]));
    }
}
