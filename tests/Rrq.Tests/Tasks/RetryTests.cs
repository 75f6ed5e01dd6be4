using Rrq.Tests.Support;
using StackExchange.Redis;

namespace Rrq.Tests.Tasks;

[Trait(RedisServer.OnGarnet, "yes")]
public class RetryTests
{
    /// <param name="quiet">A worker without a heartbeat, so that it never sweeps (for tests that leave walks half done on
    /// purpose).</param>
    private static async Task<(TestQueue, RrqWorker, string counter)> Setup(bool quiet = false)
    {
        var q = await TestQueue.CreateAsync();
        q.Controller.WorkerEnvirSet(new RrqEnvir([TestQueue.Env("fault.csx")]));
        if (quiet)
        {
            await q.Controller.WorkerConfigSaveAsync("quiet", new RrqWorkerConfig { HeartbeatPeriod = null });
        }
        var w = await q.WorkerAsync(config: quiet ? "quiet" : "localhost");
        return (q, w, Path.Combine(Path.GetTempPath(), "rrq-retry-" + Guid.NewGuid().ToString("N")));
    }

    [Fact]
    public async Task Retrying_until_it_converges_builds_a_chain_read_through_any_of_its_ids_as_in_the_vignette()
    {
        var (q, w, counter) = await Setup();
        await using var _ = q;
        var obj = q.Controller;
        var t1 = obj.TaskCreateExpr("stochastic_failure(0.5, counter, 2)", new { counter });
        await w.StepAsync();
        Assert.False(obj.TaskWait(t1, TimeSpan.FromSeconds(5)));
        var err1 = Assert.IsType<RrqTaskError>(obj.TaskResult(t1));
        Assert.Equal("Convergence failure - x is only 0.10", err1.Message);

        var t2 = obj.TaskRetry(t1);
        Assert.NotEqual(t1, t2);
        await w.StepAsync();
        Assert.False(obj.TaskWait(t2, TimeSpan.FromSeconds(5)));
        var t3 = obj.TaskRetry(t2);
        var waitingOnT1 = obj.TaskWaitAsync(t1, TimeSpan.FromSeconds(30));   // follows to t3
        await w.StepAsync();
        Assert.True(await waitingOnT1);
        Assert.Equal(0.5728534, obj.TaskResult(t3));

        Assert.Equal([0.5728534, 0.5728534, 0.5728534], obj.TaskResults([t1, t2, t3]).Cast<double>());
        var own = obj.TaskResults([t1, t2, t3], follow: false);
        Assert.Equal("Convergence failure - x is only 0.10", Assert.IsType<RrqTaskError>(own[0]).Message);
        Assert.Equal("Convergence failure - x is only 0.20", Assert.IsType<RrqTaskError>(own[1]).Message);
        Assert.Equal(RrqTaskStatus.Error, ((RrqTaskError)own[0]!).Status);   // the original status is kept in the error
        Assert.Equal(t2, ((RrqTaskError)own[1]!).TaskId);
        Assert.Equal(0.5728534, own[2]);

        Assert.Equal([RrqTaskStatus.Complete, RrqTaskStatus.Complete, RrqTaskStatus.Complete], obj.TaskStatus([t1, t2, t3]));
        Assert.Equal([RrqTaskStatus.Moved, RrqTaskStatus.Moved, RrqTaskStatus.Complete], obj.TaskStatus([t1, t2, t3], follow: false));

        var followed = obj.TaskTimes([t1, t2, t3]);
        Assert.Equal([t1, t2, t3], followed.Select(x => x.TaskId));
        Assert.All(followed, x => Assert.Equal(followed[2] with { TaskId = x.TaskId }, x));
        Assert.Null(followed[0].Moved);
        var ownTimes = obj.TaskTimes([t1, t2, t3], follow: false);
        Assert.NotNull(ownTimes[0].Moved);
        Assert.NotNull(ownTimes[1].Moved);
        Assert.Null(ownTimes[2].Moved);
        Assert.Equal(ownTimes[1].Submit, ownTimes[0].Moved);

        Assert.Equal(new RrqChain([], [t2, t3]), obj.TaskInfo(t1).Moved);
        Assert.Equal(new RrqChain([t1], [t3]), obj.TaskInfo(t2).Moved);
        Assert.Equal(new RrqChain([t1, t2], []), obj.TaskInfo(t3).Moved);
        Assert.Equal(RrqTaskStatus.Moved, obj.TaskInfo(t1).Status);

        using (var noFollow = RrqController.Connect(q.QueueId, RedisServer.Instance.Address, follow: false))
        {
            Assert.Equal(err1.Message, Assert.IsType<RrqTaskError>(noFollow.TaskResult(t1)).Message);
        }

        obj.TaskDelete([t1]);
        Assert.Equal([RrqTaskStatus.Missing, RrqTaskStatus.Missing, RrqTaskStatus.Missing], obj.TaskStatus([t1, t2, t3], follow: false));
        File.Delete(counter);
    }

    [Fact]
    public async Task Retrying_an_older_id_retries_the_newest_task_of_its_chain()
    {
        var (q, w, _) = await Setup();
        await using var _q = q;
        var obj = q.Controller;
        var t1 = obj.TaskCreateExpr("1");
        await w.StepAsync();
        var t2 = obj.TaskRetry(t1);
        await w.StepAsync();
        var t3 = obj.TaskRetry(t1);
        Assert.Equal(new RrqChain([t1, t2], []), obj.TaskInfo(t3).Moved);
    }

    [Fact]
    public async Task Tasks_that_cannot_be_retried_are_refused_listing_each_with_its_state_and_nothing_changes()
    {
        var (q, w, _) = await Setup();
        await using var _q = q;
        var obj = q.Controller;
        var done = obj.TaskCreateExpr("1");
        await w.StepAsync();
        var pending = obj.TaskCreateExpr("2");
        var deferred = obj.TaskCreateExpr("3", dependsOn: [pending]);
        var missing = new string('c', 32);
        var e = Assert.Throws<RrqException>(() => obj.TaskRetry([done, pending, deferred, missing]));
        Assert.Contains($"{pending} (PENDING)", e.Message);
        Assert.Contains($"{deferred} (DEFERRED)", e.Message);
        Assert.Contains($"{missing} (MISSING)", e.Message);
        Assert.DoesNotContain(done, e.Message);
        Assert.Equal(RrqTaskStatus.Complete, obj.TaskStatus(done, follow: false));
        Assert.Equal(3, obj.TaskList().Count);

        var bad = obj.TaskCreateExpr("throw new Exception()");
        var impossible = obj.TaskCreateExpr("4", dependsOn: [bad]);
        while ((await w.StepAsync()).Kind != RrqWorkerStepKind.Idle)
        {
        }
        Assert.Equal(RrqTaskStatus.Impossible, obj.TaskStatus(impossible));
        Assert.Contains($"{impossible} (IMPOSSIBLE)", Assert.Throws<RrqException>(() => obj.TaskRetry(impossible)).Message);

        Assert.Contains("must not repeat", Assert.Throws<ArgumentException>(() => obj.TaskRetry([done, done])).Message);
        var next = obj.TaskRetry(done);
        var sameChain = Assert.Throws<ArgumentException>(() => obj.TaskRetry([done, next]));
        Assert.Contains("different retry chains", sameChain.Message);
    }

    [Fact]
    public async Task Two_controllers_retrying_the_same_task_at_once_make_exactly_one_new_task()
    {
        var (q, w, _) = await Setup();
        await using var _q = q;
        var t = q.Controller.TaskCreateExpr("throw new Exception()");
        await w.StepAsync();
        for (var round = 0; round < 10; round++)
        {
            var down = q.Controller.TaskInfo(t).Moved.Down;
            var leaf = down.Count > 0 ? down[^1] : t;
            await using var other = await RrqController.ConnectAsync(q.QueueId, RedisServer.Instance.Address);
            var a = Task.Run(() => q.Controller.TaskRetryAsync([leaf]));
            var b = Task.Run(() => other.TaskRetryAsync([leaf]));
            var outcomes = await Task.WhenAll(a.ContinueWith(x => x.IsCompletedSuccessfully), b.ContinueWith(x => x.IsCompletedSuccessfully));
            Assert.Equal(1, outcomes.Count(o => o));
            Assert.Single(q.Controller.QueueList());
            await w.StepAsync();
        }
        Assert.Equal(11, q.Controller.TaskList().Count);
        Assert.Equal(10, q.Controller.TaskInfo(t).Moved.Down.Count);
    }

    [Fact]
    public async Task A_task_can_be_retried_into_another_queue()
    {
        var (q, w, _) = await Setup();
        await using var _q = q;
        var obj = q.Controller;
        var t = obj.TaskCreateExpr("throw new Exception()");
        await w.StepAsync();
        var t2 = obj.TaskRetry(t, queue: "rescue");
        Assert.Equal("rescue", obj.TaskInfo(t2).Queue);
        Assert.Equal([t2], obj.QueueList("rescue"));
        Assert.Equal(RrqWorkerStepKind.Idle, (await w.StepAsync()).Kind);   // this worker does not listen to "rescue"
        // Through the old id, position and the tasks ahead are those of the new task in its own queue.
        var ahead = obj.TaskCreateExpr("0", queue: "rescue");
        obj.QueueRemove([t2], "rescue");
        Assert.Equal(RrqTaskStatus.Cancelled, obj.TaskStatus(t2));
        var t3 = obj.TaskRetry(t2);
        Assert.Equal("rescue", obj.TaskInfo(t3).Queue);
        Assert.Equal([2L, 2L], obj.TaskPosition([t, t3]));
        Assert.Equal([ahead], obj.TaskPreceeding(t));
        Assert.Equal(0, obj.TaskPosition(t, follow: false));
        Assert.Null(obj.TaskPreceeding(t, follow: false));
    }

    [Fact]
    public async Task Retrying_a_failed_dependency_re_arms_its_impossible_dependents()
    {
        var (q, w, counter) = await Setup();
        await using var _q = q;
        var obj = q.Controller;
        var a = obj.TaskCreateExpr("stochastic_failure(0.5, counter, 1)", new { counter });
        var b = obj.TaskCreateExpr("2", dependsOn: [a]);
        var c = obj.TaskCreateExpr("3", dependsOn: [b]);
        await w.StepAsync();
        Assert.Equal([RrqTaskStatus.Error, RrqTaskStatus.Impossible, RrqTaskStatus.Impossible], obj.TaskStatus([a, b, c]));

        var a2 = obj.TaskRetry(a);
        Assert.Equal([RrqTaskStatus.Deferred, RrqTaskStatus.Deferred], obj.TaskStatus([b, c]));
        Assert.Equal([a2], obj.TaskInfo(b).Depends.Up);
        var waiting = obj.TaskWaitAsync([c], TimeSpan.FromSeconds(30));
        Assert.Equal(a2, (await w.StepAsync()).TaskId);
        Assert.Equal(b, (await w.StepAsync()).TaskId);
        Assert.Equal(c, (await w.StepAsync()).TaskId);
        Assert.True(await waiting);
        Assert.Equal(3, obj.TaskResult(c));
        File.Delete(counter);
    }

    [Fact]
    public async Task Depending_on_a_moved_id_depends_on_the_newest_task_of_its_chain()
    {
        var (q, w, _) = await Setup();
        await using var _q = q;
        var obj = q.Controller;
        var t1 = obj.TaskCreateExpr("throw new Exception()");
        await w.StepAsync();
        var t2 = obj.TaskRetry(t1);
        var dependent = obj.TaskCreateExpr("5", dependsOn: [t1]);
        Assert.Equal([t2], obj.TaskInfo(dependent).Depends.Up);
        Assert.Equal(RrqTaskStatus.Deferred, obj.TaskStatus(dependent));
    }

    [Fact]
    public async Task A_retried_separate_process_task_runs_again_in_a_separate_process_with_its_timeout()
    {
        var (q, w, _) = await Setup();
        await using var _q = q;
        var obj = q.Controller;
        _ = w.RunAsync();
        var t = obj.TaskCreateExpr("System.Threading.Thread.Sleep(60_000)", separateProcess: true, timeout: TimeSpan.FromSeconds(1));
        Assert.False(await obj.TaskWaitAsync(t, TimeSpan.FromSeconds(60)));
        Assert.Equal(RrqTaskStatus.Timeout, obj.TaskStatus(t));
        var t2 = obj.TaskRetry(t);
        var info = obj.TaskInfo(t2);
        Assert.True(info.SeparateProcess);
        Assert.Equal(TimeSpan.FromSeconds(1), info.Timeout);
        Assert.False(await obj.TaskWaitAsync(t2, TimeSpan.FromSeconds(60)));
        Assert.Equal(RrqTaskStatus.Timeout, obj.TaskStatus(t2));   // rrq's retries of such tasks always end DIED
        Assert.NotNull(obj.TaskInfo(t2).Pid);
    }

    [Fact]
    public async Task Retrying_hundreds_at_once_checks_them_all_first_then_retries_them_in_slices()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var ids = obj.TaskCreateBulkExpr("i", Enumerable.Range(0, 250).Select(i => (object)new { i }));
        var pending = obj.TaskCreateExpr("-1");
        obj.QueueRemove(ids);   // CANCELLED: retriable

        // One unretriable id anywhere refuses the whole call before anything changes.
        var e = Assert.Throws<RrqException>(() => obj.TaskRetry([.. ids, pending]));
        Assert.Contains($"{pending} (PENDING)", e.Message);
        Assert.All(obj.TaskStatus(ids, follow: false), st => Assert.Equal(RrqTaskStatus.Cancelled, st));

        var again = obj.TaskRetry(ids);   // five scripts' worth
        Assert.Equal(250, again.Distinct().Count());
        Assert.All(obj.TaskStatus(ids, follow: false), st => Assert.Equal(RrqTaskStatus.Moved, st));
        Assert.All(obj.TaskStatus(again), st => Assert.Equal(RrqTaskStatus.Pending, st));
        Assert.Equal(again, ids.Select(id => obj.TaskInfo(id).Moved.Down[0]));
        Assert.Equal(251, obj.QueueLength());
    }

    private static IDatabase Db => RedisServer.Instance.Connection.GetDatabase();

    /// <summary>A parent that fails its first <paramref name="failures"/> runs, with <paramref name="n"/> dependents and
    /// one grandchild, all IMPOSSIBLE once it has run and failed.</summary>
    private static async Task<(string Parent, IReadOnlyList<string> Children, string Grandchild)> FailedFamilyAsync(
        TestQueue q, RrqWorker w, string counter, int failures, int n)
    {
        var obj = q.Controller;
        var parent = obj.TaskCreateExpr("stochastic_failure(0.5, counter, failures)", new { counter, failures });
        var children = obj.TaskCreateBulkExpr("i", Enumerable.Range(0, n).Select(i => (object)new { i }), dependsOn: [parent]);
        var grandchild = obj.TaskCreateExpr("-1", dependsOn: [children[^1]]);
        Assert.Equal(parent, (await w.StepAsync()).TaskId);
        Assert.All(obj.TaskStatus([.. children, grandchild]), st => Assert.Equal(RrqTaskStatus.Impossible, st));
        return (parent, children, grandchild);
    }

    [Fact]
    public async Task Retrying_a_task_with_thousands_of_impossible_dependents_moves_no_link_and_re_arms_them_a_slice_per_script()
    {
        var (q, w, counter) = await Setup(quiet: true);
        await using var _q = q;
        var obj = q.Controller;
        var (parent, children, grandchild) = await FailedFamilyAsync(q, w, counter, 2, 1500);
        var links = await Db.SortedSetRangeByRankAsync(obj.Keys.TaskDependsDown);

        // The retry script alone: a new task, and the chain queued for re-arming; no link moves, no dependent is touched.
        var next = RrqController.NewTaskId();
        var r = await obj.Queue.TaskRetryAsync([(parent, parent, next, "default")], CancellationToken.None);
        Assert.Equal(new Rrq.Scripts.RetryReply(1, 0, null, null, 1), r);
        Assert.Equal(links, await Db.SortedSetRangeByRankAsync(obj.Keys.TaskDependsDown));
        Assert.All(obj.TaskStatus(children), st => Assert.Equal(RrqTaskStatus.Impossible, st));

        // One step re-arms a bounded slice, first dependent first; the rest waits in the queue of walks (the last
        // dependent, whose own walk leads to its grandchild, is not reached yet).
        Assert.Equal(1, await obj.Queue.WalksContinueAsync([], CancellationToken.None));
        var statuses = obj.TaskStatus(children);
        Assert.Contains(RrqTaskStatus.Deferred, statuses);
        Assert.Contains(RrqTaskStatus.Impossible, statuses);
        await obj.Queue.WalksDrainAsync(CancellationToken.None);
        Assert.All(obj.TaskStatus([.. children, grandchild]), st => Assert.Equal(RrqTaskStatus.Deferred, st));
        Assert.Equal(0, await Db.ListLengthAsync(obj.Keys.Rearm));
        Assert.Equal([next], obj.TaskInfo(children[0]).Depends.Up);
        Assert.Equal(children, obj.TaskInfo(next).Depends.Down.Take(children.Count));

        // The new task fails too: every dependent, the re-armed ones included, is IMPOSSIBLE again. The public retry
        // re-arms them all before it returns; its task completes and releases them to the front of the queue, in order.
        Assert.Equal(next, (await w.StepAsync()).TaskId);
        Assert.All(obj.TaskStatus([.. children, grandchild]), st => Assert.Equal(RrqTaskStatus.Impossible, st));
        var third = obj.TaskRetry(parent);
        Assert.All(obj.TaskStatus([.. children, grandchild]), st => Assert.Equal(RrqTaskStatus.Deferred, st));
        Assert.Equal(third, (await w.StepAsync()).TaskId);
        Assert.Equal(RrqTaskStatus.Complete, obj.TaskStatus(third));
        Assert.Equal(children, obj.QueueList());
        Assert.Equal(RrqTaskStatus.Deferred, obj.TaskStatus(grandchild));
        File.Delete(counter);
    }

    [Fact]
    public async Task A_re_arm_left_half_done_by_a_process_that_died_is_finished_by_a_sweeping_worker()
    {
        var (q, w, counter) = await Setup(quiet: true);
        await using var _q = q;
        var obj = q.Controller;
        var (parent, children, grandchild) = await FailedFamilyAsync(q, w, counter, 1, 1000);
        // The retry script alone, as if its caller died before re-arming; the new task waits in a queue no worker takes.
        await obj.Queue.TaskRetryAsync([(parent, parent, RrqController.NewTaskId(), "later")], CancellationToken.None);
        Assert.All(obj.TaskStatus(children), st => Assert.Equal(RrqTaskStatus.Impossible, st));

        await obj.WorkerConfigSaveAsync("hb", new RrqWorkerConfig { HeartbeatPeriod = TimeSpan.FromMilliseconds(300) });
        await using var sweeper = await q.WorkerAsync(config: "hb");
        await Poll.Until(() => obj.TaskStatus([.. children, grandchild]).All(st => st == RrqTaskStatus.Deferred));
        Assert.Equal(0, await Db.ListLengthAsync(obj.Keys.Rearm));
        File.Delete(counter);
    }

    [Fact]
    public async Task Dependents_whose_retried_dependency_completed_before_the_re_arm_reached_them_go_straight_to_the_front_in_order()
    {
        var (q, w, counter) = await Setup(quiet: true);
        await using var _q = q;
        var obj = q.Controller;
        var (parent, children, grandchild) = await FailedFamilyAsync(q, w, counter, 1, 1000);
        // The retry script alone; its new task runs and completes before anyone has re-armed a dependent. The worker
        // carries on the walks left over dependents after its task: all of them have nothing left to wait for.
        var next = RrqController.NewTaskId();
        await obj.Queue.TaskRetryAsync([(parent, parent, next, "default")], CancellationToken.None);
        Assert.All(obj.TaskStatus(children), st => Assert.Equal(RrqTaskStatus.Impossible, st));
        Assert.Equal(next, (await w.StepAsync()).TaskId);
        Assert.Equal(children, obj.QueueList());
        Assert.Equal(RrqTaskStatus.Deferred, obj.TaskStatus(grandchild));
        Assert.Equal(0, await Db.ListLengthAsync(obj.Keys.Rearm));
        File.Delete(counter);
    }

    [Fact]
    public async Task A_dependency_retried_after_it_completed_is_waited_for_again_by_dependents_still_waiting()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var w = await q.WorkerAsync();
        var a = obj.TaskCreateExpr("1");
        var b = obj.TaskCreateExpr("2");
        var c = obj.TaskCreateExpr("3", dependsOn: [a, b]);
        Assert.Equal(a, (await w.StepAsync()).TaskId);
        var a2 = obj.TaskRetry(a);                      // c waited for a and b; now for a2 and b
        Assert.Equal(b, (await w.StepAsync()).TaskId);
        Assert.Equal(RrqTaskStatus.Deferred, obj.TaskStatus(c));
        Assert.Equal(new Dictionary<string, RrqTaskStatus> { [a2] = RrqTaskStatus.Pending, [b] = RrqTaskStatus.Complete },
            obj.DeferredList()[c]);
        Assert.Equal(a2, (await w.StepAsync()).TaskId);
        Assert.Equal(RrqTaskStatus.Pending, obj.TaskStatus(c));
        Assert.Equal(c, (await w.StepAsync()).TaskId);
    }
}
