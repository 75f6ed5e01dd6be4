using Rrq.Tests.Support;

namespace Rrq.Tests.Workers;

[Trait(RedisServer.OnGarnet, "yes")]
public class InProcessWorkerTests
{
    [Fact]
    public async Task A_worker_registers_idle_and_is_busy_while_it_runs_a_task()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        obj.WorkerEnvirSet(new RrqEnvir([TestQueue.Env("fault.csx")]));
        var w = await q.WorkerAsync("busy_bee_1");
        Assert.Equal(["busy_bee_1"], obj.WorkerList());
        Assert.Equal(RrqWorkerStatus.Idle, obj.WorkerStatus("busy_bee_1"));
        var t = obj.TaskCreateExpr("slow(2000)");
        var step = w.StepAsync();
        await Poll.Until(async () => await obj.TaskStatusAsync(t) == RrqTaskStatus.Running);
        Assert.Equal(RrqWorkerStatus.Busy, await obj.WorkerStatusAsync("busy_bee_1"));
        Assert.Equal("busy_bee_1", (await obj.TaskInfoAsync(t)).Worker);
        await step;
        Assert.Equal(RrqWorkerStatus.Idle, obj.WorkerStatus("busy_bee_1"));
        var log = obj.WorkerLogTail("busy_bee_1", 0).Select(e => e.Command).ToArray();
        Assert.Equal(["HEARTBEAT", "ALIVE", "QUEUE", "ENVIR", "TASK_START", "TASK_COMPLETE"], log);   // a heartbeat by default
    }

    [Fact]
    public async Task A_worker_idle_for_a_while_after_running_tasks_gives_its_unused_heap_back_once()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        var w = await q.WorkerAsync(time: time);
        time.Advance(TimeSpan.FromSeconds(2.1));
        Assert.Equal(RrqWorkerStepKind.Idle, (await w.StepAsync()).Kind);   // idle, but it has run nothing: no collection
        Assert.Equal(0, w.HeapTrims);

        var t = obj.TaskCreateExpr("new byte[1 << 20].Length");
        Assert.Equal(t, (await w.StepAsync()).TaskId);
        Assert.Equal(RrqWorkerStepKind.Idle, (await w.StepAsync()).Kind);   // just finished: not idle for long yet
        Assert.Equal(0, w.HeapTrims);
        var before = GC.GetGCMemoryInfo(GCKind.FullBlocking).Index;
        time.Advance(TimeSpan.FromSeconds(2.1));
        Assert.Equal(RrqWorkerStepKind.Idle, (await w.StepAsync()).Kind);
        Assert.Equal(1, w.HeapTrims);
        var collected = GC.GetGCMemoryInfo(GCKind.FullBlocking);
        Assert.True(collected.Index > before, "a full, blocking collection after the idle spell began");
        Assert.True(collected.Compacted);
        Assert.Equal(RrqWorkerStepKind.Idle, (await w.StepAsync()).Kind);   // once per idle spell
        Assert.Equal(1, w.HeapTrims);
        var again = obj.TaskCreateExpr("2");
        Assert.Equal(again, (await w.StepAsync()).TaskId);
        time.Advance(TimeSpan.FromSeconds(2.1));
        Assert.Equal(RrqWorkerStepKind.Idle, (await w.StepAsync()).Kind);   // a new idle spell after more work
        Assert.Equal(2, w.HeapTrims);
    }

    [Fact]
    public async Task Two_workers_with_the_same_id_cannot_both_be_live()
    {
        await using var q = await TestQueue.CreateAsync();
        await q.WorkerAsync("twin");
        var e = await Assert.ThrowsAsync<RrqException>(() => q.WorkerAsync("twin"));
        Assert.Contains("'twin' is already registered", e.Message);
    }

    [Fact]
    public async Task A_new_worker_never_gets_the_id_of_one_the_queue_has_seen()
    {
        await using var q = await TestQueue.CreateAsync();
        var gone = await q.WorkerAsync("taken_name_1");
        await gone.StopAsync();
        await q.WorkerAsync("taken_name");
        var offered = new Queue<string>(["taken_name", "taken_name", "fresh_name"]);
        // A spawn of two would name its workers taken_name_1 and taken_name_2: one of them exited here.
        Assert.Equal("fresh_name", await Rrq.Workers.WorkerNames.UnusedBaseAsync(q.Controller, 2, offered.Dequeue));
        offered = new Queue<string>(["taken_name", "fresh_name"]);
        Assert.Equal("fresh_name", await Rrq.Workers.WorkerNames.UnusedBaseAsync(q.Controller, 0, offered.Dequeue));
        var unnamed = await q.WorkerAsync();
        Assert.Matches("^[a-z]+_[a-z]+$", unnamed.Id);
    }

    [Fact]
    public async Task Unknown_workers_are_clear_errors()
    {
        await using var q = await TestQueue.CreateAsync();
        Assert.Contains("Worker 'ghost' has never registered", Assert.Throws<RrqException>(() => q.Controller.WorkerStatus("ghost")).Message);
        Assert.Contains("unknown worker ghost", Assert.Throws<RrqException>(() => q.Controller.WorkerStop(["ghost"])).Message);
    }

    [Fact]
    public async Task Concurrent_claims_give_each_task_to_exactly_one_worker()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var ids = Enumerable.Range(0, 60).Select(i => obj.TaskCreateExpr("i * i", new { i })).ToArray();
        var workers = new List<RrqWorker>();
        for (var i = 0; i < 4; i++)
        {
            workers.Add(await q.WorkerAsync($"claimer_{i}"));
        }
        var ran = new System.Collections.Concurrent.ConcurrentBag<string>();
        await Task.WhenAll(workers.Select(w => Task.Run(async () =>
        {
            while (true)
            {
                var s = await w.StepAsync();
                if (s.Kind == RrqWorkerStepKind.Idle)
                {
                    return;
                }
                ran.Add(s.TaskId!);
            }
        })));
        Assert.Equal(ids.Order(), ran.Order());
        Assert.All(obj.TaskStatus(ids), s => Assert.Equal(RrqTaskStatus.Complete, s));
        Assert.Equal(Enumerable.Range(0, 60).Select(i => i * i), obj.TaskResults(ids).Cast<int>());
    }

    [Fact]
    public async Task A_result_arriving_after_the_task_was_deleted_is_dropped_not_resurrected()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        obj.WorkerEnvirSet(new RrqEnvir([TestQueue.Env("fault.csx")]));
        var t = obj.TaskCreateExpr("slow(2000)");
        var w = await q.WorkerAsync();
        var step = w.StepAsync();
        await Poll.Until(async () => await obj.TaskStatusAsync(t) == RrqTaskStatus.Running);
        // Simulate what detection will do in another issue: the task is taken from the worker.
        var db = RedisServer.Instance.Connection.GetDatabase();
        await db.HashSetAsync($"{{{q.QueueId}}}:task:status", t, "DIED");
        await step;
        Assert.Equal(RrqTaskStatus.Died, obj.TaskStatus(t));
        var err = Assert.IsType<RrqTaskError>(obj.TaskResult(t));
        Assert.Equal("Task not successful: DIED", err.Message);
        Assert.Null(err.Trace);
        Assert.Equal(RrqWorkerStatus.Idle, obj.WorkerStatus(w.Id));
    }

    [Fact]
    public async Task A_stop_message_makes_the_worker_exit_and_answer()
    {
        await using var q = await TestQueue.CreateAsync();
        var w = await q.WorkerAsync("stopper");
        q.Controller.WorkerStop(["stopper"]);
        var step = await w.StepAsync();
        Assert.Equal(RrqWorkerStepKind.Stopped, step.Kind);
        Assert.Equal(RrqWorkerStatus.Exited, q.Controller.WorkerStatus("stopper"));
        Assert.Empty(q.Controller.WorkerList());
        Assert.Equal("STOP", q.Controller.WorkerLogTail("stopper", 1).Single().Command);
        Assert.Equal("OK (BYE)", q.Controller.WorkerLogTail("stopper", 1).Single().Message);
    }

    [Fact]
    public async Task A_worker_runs_tasks_as_they_arrive_when_run_in_a_loop_and_stops_on_cancellation()
    {
        await using var q = await TestQueue.CreateAsync();
        var w = await q.WorkerAsync("looper");
        using var cts = new CancellationTokenSource();
        var loop = w.RunAsync(cts.Token);
        var t = q.Controller.TaskCreateExpr("6 * 7");
        Assert.True(await q.Controller.TaskWaitAsync(t, TimeSpan.FromSeconds(20)));
        Assert.Equal(42, q.Controller.TaskResult(t));
        cts.Cancel();
        await loop;
        Assert.Equal(RrqWorkerStatus.Exited, q.Controller.WorkerStatus("looper"));
    }

    /// <summary>
    /// A worker running in a loop, busy with a first task that waits for the gate, while a second
    /// task waits in the queue. The test decides when the first ends.
    /// </summary>
    private static async Task<(RrqWorker W, string First, string Second, Task Loop)> BusyLoopAsync(TestQueue q, Gate gate, CancellationToken stop)
    {
        var w = await q.WorkerAsync();
        var first = q.Controller.TaskCreateExpr(Gate.Wait + " 1", gate.Locals);
        var second = q.Controller.TaskCreateExpr("2");
        var loop = w.RunAsync(stop);
        await Poll.Until(async () => await q.Controller.TaskStatusAsync(first) == RrqTaskStatus.Running);
        return (w, first, second, loop);
    }

    [Fact]
    public async Task A_busy_worker_in_a_loop_answers_a_message_before_it_takes_its_next_task()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        using var cts = new CancellationTokenSource();
        using var gate = new Gate();
        var (w, first, second, loop) = await BusyLoopAsync(q, gate, cts.Token);
        var ping = obj.MessageSend("PING");
        gate.Open();
        Assert.True(await obj.TaskWaitAsync(second, TimeSpan.FromSeconds(20)));
        Assert.Equal("PONG", obj.MessageGetResponse(ping)[w.Id].Result);
        // The worker takes its next step as it records a task, and a message wins over a queued task.
        var log = obj.WorkerLogTail(w.Id, 0).Select(l => $"{l.Command} {l.Message}").ToArray();
        var done = Array.IndexOf(log, $"TASK_COMPLETE {first}");
        Assert.Equal(["MESSAGE PING", "RESPONSE PING", $"TASK_START {second}"], log[(done + 1)..(done + 4)]);
        cts.Cancel();
        await loop;
    }

    [Fact]
    public async Task Stopping_a_loop_while_a_task_runs_finishes_that_task_and_leaves_the_next_one_queued()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        using var cts = new CancellationTokenSource();
        using var gate = new Gate();
        var (w, first, second, loop) = await BusyLoopAsync(q, gate, cts.Token);
        cts.Cancel();
        gate.Open();
        await loop;
        Assert.Equal(RrqTaskStatus.Complete, obj.TaskStatus(first));
        Assert.Equal(1, obj.TaskResult(first));
        Assert.Equal(RrqTaskStatus.Pending, obj.TaskStatus(second));
        Assert.Equal([second], obj.QueueList());
        Assert.Equal(RrqWorkerStatus.Exited, obj.WorkerStatus(w.Id));
    }

    [Fact]
    public async Task StopAsync_from_outside_waits_for_the_running_task_records_it_and_leaves_the_next_one_queued()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        using var gate = new Gate();
        var (w, first, second, loop) = await BusyLoopAsync(q, gate, CancellationToken.None);
        var stop = w.StopAsync();
        await Task.Delay(300);   // that the stop does not end while the task runs can only be seen over a while
        Assert.False(stop.IsCompleted);                                       // waiting for the task
        Assert.Equal(RrqWorkerStatus.Busy, obj.WorkerStatus(w.Id));
        gate.Open();
        await stop.WaitAsync(TimeSpan.FromSeconds(20));
        await loop.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(RrqTaskStatus.Complete, obj.TaskStatus(first));
        Assert.Equal(1, obj.TaskResult(first));
        Assert.Equal(RrqTaskStatus.Pending, obj.TaskStatus(second));
        Assert.Equal([second], obj.QueueList());
        Assert.Equal(RrqWorkerStatus.Exited, obj.WorkerStatus(w.Id));
        Assert.Equal("OK (BYE)", obj.WorkerLogTail(w.Id, 1).Single().Message);
    }

    [Fact]
    public async Task StopAsync_whose_wait_is_cancelled_leaves_at_once_and_the_running_task_is_DIED()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        using var gate = new Gate();
        var (w, first, second, loop) = await BusyLoopAsync(q, gate, CancellationToken.None);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        await w.StopAsync(cancellationToken: cts.Token).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(RrqWorkerStatus.Exited, obj.WorkerStatus(w.Id));
        Assert.Equal(RrqTaskStatus.Died, obj.TaskStatus(first));
        gate.Open();
        await loop.WaitAsync(TimeSpan.FromSeconds(20));                      // the task ends; nothing is written back
        Assert.Equal(RrqTaskStatus.Died, obj.TaskStatus(first));
        Assert.Equal(RrqTaskStatus.Pending, obj.TaskStatus(second));
        Assert.Equal([second], obj.QueueList());
    }

    [Fact]
    public async Task An_idle_timeout_stops_the_worker()
    {
        await using var q = await TestQueue.CreateAsync();
        q.Controller.WorkerConfigSave("brief", new RrqWorkerConfig { TimeoutIdle = TimeSpan.FromMilliseconds(300), PollQueue = TimeSpan.FromMilliseconds(100) });
        var w = await q.WorkerAsync("brief_1", "brief");
        await w.RunAsync().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(RrqWorkerStatus.Exited, q.Controller.WorkerStatus("brief_1"));
        Assert.Equal("OK (TIMEOUT)", q.Controller.WorkerLogTail("brief_1").Single().Message);
    }

    [Fact]
    public async Task An_idle_worker_claims_once_per_poll_period_and_a_submission_still_wakes_it_at_once()
    {
        using var redis = new PrivateRedis();
        await using var obj = await RrqController.ConnectAsync("rrq-test:idle-claims", redis.Address);
        await obj.WorkerConfigSaveAsync("fast", new RrqWorkerConfig { PollQueue = TimeSpan.FromMilliseconds(100), HeartbeatPeriod = null });
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        await using var w = await RrqWorker.CreateAsync(obj, new Rrq.Scripting.RoslynTaskEvaluator(), null, "fast", null, clock);
        // Its claims, counted as they are sent (Redis's own count has two calls for a claim that found the script missing).
        var claims = 0;
        using var listening = ScriptHeaders.Listen((script, _, args) =>
        {
            if (script == Rrq.Scripts.RrqScripts.WorkerClaim && (string?)args[0] == w.Id)
            {
                Interlocked.Increment(ref claims);
            }
        });
        int Claims() => Volatile.Read(ref claims);
        using var cts = new CancellationTokenSource();
        var running = w.RunAsync(cts.Token);
        await Poll.Until(() => Claims() > 0);   // its first claim, at once
        // Its clock moves 10 ms at a time, each time until the next claim, 20 times: that takes 20 poll periods of it, and
        // 20 claims (an idle worker that claimed twice per period made 40).
        var start = Claims();
        var moved = TimeSpan.Zero;
        for (var i = 0; i < 20; i++)
        {
            var before = Claims();
            await Poll.Until(() =>
            {
                clock.Advance(TimeSpan.FromMilliseconds(10));
                moved += TimeSpan.FromMilliseconds(10);
                return Claims() > before;
            });
        }
        Assert.True(moved >= TimeSpan.FromMilliseconds(20 * 100 - 10), $"20 rounds in {moved.TotalMilliseconds} ms of the worker's clock");
        Assert.InRange(Claims() - start, 20, 22);   // 22: a round whose claim was seen late may have moved into the next period

        var t = await obj.TaskCreateExprAsync("1 + 1");
        Assert.True(await obj.TaskWaitAsync(t, TimeSpan.FromSeconds(10)));
        await cts.CancelAsync();
        await running;
    }

    [Fact]
    public async Task The_heartbeat_beats_once_a_period_of_the_workers_clock_and_offers_a_sweep_once_a_whole_expiry_window_has_gone_well()
    {
        await using var q = await TestQueue.CreateAsync();
        var period = TimeSpan.FromSeconds(10);
        await q.Controller.WorkerConfigSaveAsync("beat", new RrqWorkerConfig { HeartbeatPeriod = period });
        var name = "beating-" + Guid.NewGuid().ToString("N")[..6];
        var calls = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using var listening = ScriptHeaders.Listen((script, _, args) =>
        {
            if ((script == Rrq.Scripts.RrqScripts.WorkerBeat || script == Rrq.Scripts.RrqScripts.SweepTurn) && (string?)args[0] == name)
            {
                calls.Enqueue(script);
            }
        });
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        await q.WorkerAsync(name, "beat", clock);
        int Beats() => calls.Count(c => c == Rrq.Scripts.RrqScripts.WorkerBeat);

        // Its clock moves 200 ms at a time until each beat: three beats take three periods of it (no real time passes
        // between them but the test's pace).
        var moved = TimeSpan.Zero;
        for (var i = 1; i <= 3; i++)
        {
            await Poll.Until(() =>
            {
                clock.Advance(TimeSpan.FromMilliseconds(200));
                moved += TimeSpan.FromMilliseconds(200);
                return Beats() >= i;
            });
        }
        Assert.True(moved >= period * 3, $"3 beats in {moved.TotalSeconds} s of the worker's clock");
        // The lost-worker sweep is offered once its beats have landed on time for an expiry window (three periods):
        // after the third beat, not before.
        await Poll.Until(() =>
        {
            clock.Advance(TimeSpan.FromMilliseconds(200));
            return calls.Contains(Rrq.Scripts.RrqScripts.SweepTurn);
        });
        Assert.InRange(calls.TakeWhile(c => c == Rrq.Scripts.RrqScripts.WorkerBeat).Count(), 3, 4);   // 4: a sweep that started late
    }

    [Fact]
    public async Task A_submission_wakes_one_idle_worker_per_task_on_its_own_channel_not_every_worker()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var w1 = await q.WorkerAsync();
        var w2 = await q.WorkerAsync();
        await w1.StepAsync();   // each finds nothing, and is idle
        await w2.StepAsync();
        var db = RedisServer.Instance.Connection.GetDatabase();
        Assert.Equal(2, await db.SetLengthAsync(obj.Keys.Idle("default")));

        var wakes = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var sub = RedisServer.Instance.Connection.GetSubscriber();
        foreach (var w in new[] { w1, w2 })
        {
            await sub.SubscribeAsync(obj.Keys.WorkerChannel(w.Id), (_, m) => wakes.Enqueue(w.Id + " " + m));
        }
        var broadcasts = 0;
        await sub.SubscribeAsync(obj.Keys.QueueChannel("default"), (_, _) => Interlocked.Increment(ref broadcasts));
        try
        {
            var t = obj.TaskCreateExpr("1");
            await Poll.Until(() => !wakes.IsEmpty);
            await Task.Delay(200);   // room for a second wake, which must not come
            Assert.Single(wakes);
            Assert.Equal(0, Volatile.Read(ref broadcasts));
            var woken = wakes.Single().Split(' ')[0];
            Assert.Equal([woken == w1.Id ? w2.Id : w1.Id], (await db.SetMembersAsync(obj.Keys.Idle("default"))).Select(m => (string)m!));

            // The woken worker takes it, and is no longer idle; the other is woken by the next task.
            var step = await (woken == w1.Id ? w1 : w2).StepAsync();
            Assert.Equal(t, step.TaskId);
            obj.TaskCreateExpr("2");
            await Poll.Until(() => wakes.Count == 2);
            Assert.NotEqual(woken, wakes.Last().Split(' ')[0]);
            Assert.Equal(0, await db.SetLengthAsync(obj.Keys.Idle("default")));
        }
        finally
        {
            await sub.UnsubscribeAllAsync();
        }
    }
}
