using Rrq.Tests.Support;

namespace Rrq.Tests.Workers;

/// <summary>Messages to workers: each command, the response calls, and bad input.</summary>
[Trait(RedisServer.OnGarnet, "yes")]
public class MessageTests
{
    [Fact]
    public async Task Ping_echo_and_eval_are_answered_between_tasks_and_eval_runs_in_the_worker_environment()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        obj.WorkerEnvirSet(new RrqEnvir([TestQueue.Env("fault.csx")]));
        var w = await q.WorkerAsync();
        var ping = obj.MessageSend("PING");
        var echo = obj.MessageSend("echo", "hello");                    // commands are case-insensitive
        var eval = obj.MessageSend("EVAL", "Version() + 1");           // Version() comes from fault.csx
        Assert.False(obj.MessageHasResponse(ping)[w.Id]);
        Assert.Equal(RrqWorkerStepKind.Message, (await w.StepAsync()).Kind);
        Assert.True(obj.MessageHasResponse(ping)[w.Id]);
        Assert.False(obj.MessageHasResponse(echo)[w.Id]);              // one message per step, oldest first
        await w.StepAsync();
        await w.StepAsync();

        var pong = obj.MessageGetResponse(ping)[w.Id];
        Assert.Equal(new RrqMessageResponse(w.Id, ping, "PING", "PONG", null), pong);
        Assert.Equal("OK", obj.MessageGetResponse(echo)[w.Id].Result);
        Assert.Equal(2, obj.MessageGetResponse(eval)[w.Id].Result);
        Assert.Equal([ping, echo, eval], obj.MessageResponseIds(w.Id));
        Assert.True(string.CompareOrdinal(ping, echo) < 0 && string.CompareOrdinal(echo, eval) < 0);

        obj.MessageGetResponse(ping, delete: true);
        Assert.Equal([echo, eval], obj.MessageResponseIds(w.Id));
        var log = obj.WorkerLogTail(w.Id, 0).Select(l => l.Command).Where(c => c is "MESSAGE" or "RESPONSE").ToArray();
        Assert.Equal(["MESSAGE", "RESPONSE", "MESSAGE", "RESPONSE", "MESSAGE", "RESPONSE"], log);
    }

    [Fact]
    public async Task An_eval_that_throws_or_does_not_compile_and_an_unknown_command_get_error_responses_and_the_worker_lives_on()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var w = await q.WorkerAsync();
        var throws = obj.MessageSend("EVAL", "int.Parse(\"x\")");
        var broken = obj.MessageSend("EVAL", "1 +");
        var unknown = obj.MessageSend("DANCE");
        await w.StepAsync();
        await w.StepAsync();
        await w.StepAsync();
        var r1 = obj.MessageGetResponse(throws)[w.Id];
        Assert.False(r1.Success);
        Assert.StartsWith("System.FormatException: ", r1.Error);
        Assert.Contains("error CS1733", obj.MessageGetResponse(broken)[w.Id].Error);
        Assert.StartsWith("Unknown message 'DANCE'", obj.MessageGetResponse(unknown)[w.Id].Error);
        var t = obj.TaskCreateExpr("40 + 2");
        Assert.Equal(RrqTaskStatus.Complete, (await w.StepAsync()).Status);
        Assert.Equal(42, obj.TaskResult(t));
    }

    [Fact]
    public async Task A_paused_worker_takes_no_tasks_but_answers_messages_and_pausing_twice_is_a_noop()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var w = await q.WorkerAsync();
        var pause = obj.MessageSend("PAUSE");
        var again = obj.MessageSend("PAUSE");
        await w.StepAsync();
        await w.StepAsync();
        Assert.Equal("OK", obj.MessageGetResponse(pause)[w.Id].Result);
        Assert.Equal("NOOP", obj.MessageGetResponse(again)[w.Id].Result);
        Assert.Equal(RrqWorkerStatus.Paused, obj.WorkerStatus(w.Id));

        var t = obj.TaskCreateExpr("1");
        Assert.Equal(RrqWorkerStepKind.Idle, (await w.StepAsync()).Kind);
        Assert.Equal(RrqTaskStatus.Pending, obj.TaskStatus(t));
        var ping = obj.MessageSend("PING");
        Assert.Equal(RrqWorkerStepKind.Message, (await w.StepAsync()).Kind);
        Assert.Equal("PONG", obj.MessageGetResponse(ping)[w.Id].Result);

        var resume = obj.MessageSend("RESUME");
        await w.StepAsync();
        Assert.Equal("OK", obj.MessageGetResponse(resume)[w.Id].Result);
        Assert.Equal(RrqWorkerStatus.Idle, obj.WorkerStatus(w.Id));
        Assert.Equal(t, (await w.StepAsync()).TaskId);
        var resumeAgain = obj.MessageSend("RESUME");
        await w.StepAsync();
        Assert.Equal("NOOP", obj.MessageGetResponse(resumeAgain)[w.Id].Result);
    }

    [Fact]
    public async Task Timeout_set_and_get_change_and_report_the_idle_timeout_and_zero_makes_an_idle_worker_exit()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        obj.WorkerConfigSave("fast", new RrqWorkerConfig { PollQueue = TimeSpan.FromMilliseconds(200) });
        var w = await q.WorkerAsync(config: "fast");
        var get = obj.MessageSend("TIMEOUT_GET");
        var set = obj.MessageSend("TIMEOUT_SET", TimeSpan.FromSeconds(30));
        var get2 = obj.MessageSend("TIMEOUT_GET");
        var bad = obj.MessageSend("TIMEOUT_SET", "soon");
        for (var i = 0; i < 4; i++)
        {
            await w.StepAsync();
        }
        Assert.Equal(new RrqIdleTimeout(null, null), obj.MessageGetResponse(get)[w.Id].Result);
        Assert.Equal("OK", obj.MessageGetResponse(set)[w.Id].Result);
        var timeout = Assert.IsType<RrqIdleTimeout>(obj.MessageGetResponse(get2)[w.Id].Result);
        Assert.Equal(TimeSpan.FromSeconds(30), timeout.Limit);
        Assert.InRange(timeout.Remaining!.Value, TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(30));
        Assert.Equal("INVALID", obj.MessageGetResponse(bad)[w.Id].Result);

        obj.MessageSend("TIMEOUT_SET", 0);
        await w.RunAsync().WaitAsync(TimeSpan.FromSeconds(30));   // answers, then exits when next idle
        Assert.Equal(RrqWorkerStatus.Exited, obj.WorkerStatus(w.Id));
        Assert.Equal("STOP", obj.WorkerLogTail(w.Id).Single().Command);
        Assert.Equal("OK (TIMEOUT)", obj.WorkerLogTail(w.Id).Single().Message);
    }

    [Fact]
    public async Task Info_refreshes_and_returns_the_worker_info_and_refresh_reloads_the_environment_now()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        obj.WorkerEnvirSet(new RrqEnvir([TestQueue.Env("fault.csx")]));
        var w = await q.WorkerAsync();
        var info = obj.MessageSend("INFO");
        await w.StepAsync();
        var reported = Assert.IsType<RrqWorkerInfo>(obj.MessageGetResponse(info)[w.Id].Result);
        var stored = obj.WorkerInfo()[w.Id];
        Assert.Equal(stored with { Queues = reported.Queues }, reported);
        Assert.Equal(stored.Queues, reported.Queues);
        Assert.Equal(Environment.ProcessId, reported.Pid);

        obj.WorkerEnvirSet(new RrqEnvir([TestQueue.Env("version2.csx")]), notify: false);
        var refresh = obj.MessageSend("REFRESH");
        await w.StepAsync();
        Assert.Equal("OK", obj.MessageGetResponse(refresh)[w.Id].Result);
        Assert.Equal(2, w.EnvirVersion);

        // An environment that fails on the worker although it compiled where it was set (a controller
        // without Rrq.Scripting stores it unchecked): its text is broken here, behind the controller's back.
        var db = RedisServer.Instance.Connection.GetDatabase();
        var spec = (string)(await db.HashGetAsync($"{{{q.QueueId}}}:envir", "spec"))!;
        await db.HashSetAsync($"{{{q.QueueId}}}:envir", "spec", spec.Replace(" 2;", " \\\"two\\\";", StringComparison.Ordinal));
        await db.HashIncrementAsync($"{{{q.QueueId}}}:envir", "version");
        var failing = obj.MessageSend("REFRESH");
        await w.StepAsync();
        Assert.StartsWith("The environment did not load: ", obj.MessageGetResponse(failing)[w.Id].Error);
        Assert.Equal(2, w.EnvirVersion);                                // the previous one stays
    }

    [Fact]
    public async Task Messages_to_unknown_workers_are_refused_and_missing_answers_name_the_worker_and_its_status()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var w = await q.WorkerAsync();
        var e = Assert.Throws<RrqException>(() => obj.MessageSend("PING", workerIds: [w.Id, "nobody_1"]));
        Assert.Contains("worker 'nobody_1': it is not a live worker", e.Message);
        Assert.Contains(w.Id, e.Message);
        Assert.Equal(0, await RedisServer.Instance.Connection.GetDatabase().ListLengthAsync($"{{{q.QueueId}}}:worker:{w.Id}:message"));

        var id = obj.MessageSend("PING");
        var missing = Assert.Throws<RrqException>(() => obj.MessageGetResponse(id, timeout: TimeSpan.FromMilliseconds(300)));
        Assert.Contains($"Response missing for worker '{w.Id}' (IDLE) to message {id}", missing.Message);
        Assert.Throws<ArgumentException>(() => obj.MessageSend("ECHO", new object()));
    }

    [Fact]
    public async Task Send_and_wait_gets_every_spawned_workers_answer_and_stop_ends_them()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var spawned = await q.SpawnAsync(2);
        var answers = await obj.MessageSendAndWaitAsync("PING", timeout: TimeSpan.FromSeconds(60));
        Assert.Equal(spawned.Ids.Order(), answers.Keys.Order());
        Assert.All(answers.Values, a => Assert.Equal("PONG", a.Result));
        Assert.All(spawned.Ids, id => Assert.Empty(obj.MessageResponseIds(id)));   // deleted once read

        var eval = await obj.MessageSendAndWaitAsync("EVAL", "Environment.ProcessId", timeout: TimeSpan.FromSeconds(60));
        Assert.All(spawned.Ids, id => Assert.Equal(spawned.Pids[id], eval[id].Result));

        var bye = await obj.MessageSendAndWaitAsync("STOP", workerIds: [spawned.Ids[0]], timeout: TimeSpan.FromSeconds(60));
        Assert.Equal("BYE", bye[spawned.Ids[0]].Result);
        await Poll.Until(() => !spawned.IsAlive(spawned.Ids[0]), 30);
        Assert.Equal(RrqWorkerStatus.Exited, obj.WorkerStatus(spawned.Ids[0]));
        Assert.Equal([spawned.Ids[1]], obj.WorkerList());
    }
}
