using Rrq.Tests.Support;

namespace Rrq.Tests.Tasks;

[Trait(RedisServer.OnGarnet, "yes")]
public class TaskLifecycleTests
{
    [Fact]
    public async Task A_submitted_task_is_pending_then_complete_with_its_value_after_a_worker_step()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var t = obj.TaskCreateExpr("x + y", new { x = 2, y = 40 });
        Assert.Matches("^[0-9a-f]{32}$", t);
        Assert.Equal(RrqTaskStatus.Pending, obj.TaskStatus(t));

        var w = await q.WorkerAsync();
        var step = await w.StepAsync();
        Assert.Equal(RrqWorkerStepKind.Task, step.Kind);
        Assert.Equal(t, step.TaskId);
        Assert.Equal(RrqTaskStatus.Complete, step.Status);

        Assert.Equal(RrqTaskStatus.Complete, obj.TaskStatus(t));
        Assert.Equal(42, obj.TaskResult(t));
        Assert.True(obj.TaskWait(t, TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public async Task Locals_are_typed_variables_and_a_dictionary_works_as_well_as_an_anonymous_object()
    {
        await using var q = await TestQueue.CreateAsync();
        var locals = new Dictionary<string, object?> { ["xs"] = new[] { 1.5, 2.5 }, ["name"] = "n" };
        var t = q.Controller.TaskCreateExpr("$\"{name}:{xs.Sum()}:{xs.GetType().Name}\"", locals);
        var w = await q.WorkerAsync();
        await w.StepAsync();
        Assert.Equal("n:4:Double[]", q.Controller.TaskResult(t));
        Assert.Equal("$\"{name}:{xs.Sum()}:{xs.GetType().Name}\"", q.Controller.TaskData(t).Expression);
        Assert.Equal(new[] { 1.5, 2.5 }, q.Controller.TaskData(t).Locals["xs"]);
    }

    [Fact]
    public async Task A_null_local_and_a_null_result_work()
    {
        await using var q = await TestQueue.CreateAsync();
        var t = q.Controller.TaskCreateExpr("v is null ? null : \"not null\"", new Dictionary<string, object?> { ["v"] = null });
        var w = await q.WorkerAsync();
        Assert.Equal(RrqTaskStatus.Complete, (await w.StepAsync()).Status);
        Assert.Null(q.Controller.TaskResult(t));
    }

    [Fact]
    public async Task A_trailing_semicolon_does_not_turn_the_value_into_null()
    {
        await using var q = await TestQueue.CreateAsync();
        var t = q.Controller.TaskCreateExpr("var a = 20; a + 1;");
        var w = await q.WorkerAsync();
        await w.StepAsync();
        Assert.Equal(21, q.Controller.TaskResult(t));
    }

    [Fact]
    public async Task A_task_that_throws_is_an_error_returned_as_a_value_with_trace_and_from()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        obj.WorkerEnvirSet(new RrqEnvir([TestQueue.Env("fault.csx")]));
        var t = obj.TaskCreateExpr("fit_model(x, null)", new { x = new[] { 1.0, 2.0 } });
        var w = await q.WorkerAsync();
        Assert.Equal(RrqTaskStatus.Error, (await w.StepAsync()).Status);

        Assert.False(obj.TaskWait(t, TimeSpan.FromSeconds(1)));
        Assert.Equal(RrqTaskStatus.Error, obj.TaskStatus(t));
        var err = Assert.IsType<RrqTaskError>(obj.TaskResult(t));
        Assert.Equal("fit_model(double[], double[]) at fault.csx:6", err.From);
        Assert.Equal("System.ArgumentNullException", err.ExceptionType);
        Assert.Contains("(Parameter 'y')", err.Message);
        Assert.Equal(t, err.TaskId);
        Assert.Equal(q.QueueId, err.QueueId);
        Assert.Equal(RrqTaskStatus.Error, err.Status);
        Assert.Contains("at fit_model(double[] x, double[] y) in ", err.Trace);
        Assert.Contains("fault.csx:line 6", err.Trace);
        Assert.Contains("at fit_model(x, null) in <task>:line 1", err.Trace);
        Assert.DoesNotContain("Microsoft.CodeAnalysis", err.Trace);
        Assert.DoesNotContain("Rrq.RrqWorker", err.Trace);

        var printed = err.ToString();
        Assert.StartsWith("<rrq_task_error>", printed);
        Assert.Contains("  from:   fit_model(double[], double[]) at fault.csx:6", printed);
        Assert.Contains($"  task:   {t}", printed);
        Assert.Contains("  status: ERROR", printed);
        Assert.Contains("This error has a stack trace", printed);

        var thrown = Assert.Throws<RrqTaskError>(() => obj.TaskResult(t, error: true));
        Assert.Equal(err.Trace, thrown.Trace);
    }

    [Fact]
    public async Task Warnings_raised_before_a_failure_are_kept_on_the_error_in_order()
    {
        await using var q = await TestQueue.CreateAsync();
        q.Controller.WorkerEnvirSet(new RrqEnvir([TestQueue.Env("fault.csx")]));
        var t = q.Controller.TaskCreateExpr("warn_then_fail(2.5)");
        var w = await q.WorkerAsync();
        await w.StepAsync();
        var err = Assert.IsType<RrqTaskError>(q.Controller.TaskResult(t));
        Assert.Equal(["first warning", "v is 2.5"], err.Warnings);
        Assert.Equal("gave up", err.Message);
        Assert.Contains("This error has warnings", err.ToString());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Warnings_of_a_task_that_succeeds_are_kept_too_in_process_and_in_a_separate_process(bool separate)
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        obj.WorkerEnvirSet(new RrqEnvir([TestQueue.Env("fault.csx")]));
        var warned = obj.TaskCreateExpr("RrqTask.Warning(\"slow convergence\"); RrqTask.Warning(\"rescaled\"); 42", separateProcess: separate);
        var quiet = obj.TaskCreateExpr("1", separateProcess: separate);
        var failed = obj.TaskCreateExpr("warn_then_fail(2.5)", separateProcess: separate);
        var w = await q.WorkerAsync();
        using var cts = new CancellationTokenSource();
        var loop = w.RunAsync(cts.Token);
        Assert.True(await obj.TaskWaitAsync([warned, quiet], TimeSpan.FromSeconds(90)));
        Assert.False(await obj.TaskWaitAsync(failed, TimeSpan.FromSeconds(90)));
        await cts.CancelAsync();
        await loop;
        Assert.Equal(42, obj.TaskResult(warned));
        Assert.Equal(["slow convergence", "rescaled"], obj.TaskWarnings(warned));
        Assert.Empty(obj.TaskWarnings(quiet));
        Assert.Equal(((RrqTaskError)obj.TaskResult(failed)!).Warnings, obj.TaskWarnings(failed));
        Assert.Equal(["first warning", "v is 2.5"], obj.TaskWarnings(failed));

        obj.TaskDelete([warned, quiet, failed]);
        Assert.Contains("MISSING", Assert.Throws<RrqException>(() => obj.TaskWarnings(warned)).Message);
        Assert.False(await RedisServer.Instance.Connection.GetDatabase().KeyExistsAsync($"{{{q.QueueId}}}:task:warnings"));
    }

    [Fact]
    public async Task Compiler_warnings_on_the_expression_are_kept_with_its_error()
    {
        await using var q = await TestQueue.CreateAsync();
        var t = q.Controller.TaskCreateExpr("if (true) { throw new InvalidOperationException(\"boom\"); } return 1;");
        var w = await q.WorkerAsync();
        await w.StepAsync();
        var err = Assert.IsType<RrqTaskError>(q.Controller.TaskResult(t));
        Assert.Equal("boom", err.Message);
        var warning = Assert.Single(err.Warnings);
        Assert.Contains("warning CS0162", warning);
        Assert.Contains("<task>(1,", warning);
    }

    [Theory]
    [InlineData("1 +", "CS1733")]
    [InlineData("undefined_name + 1", "CS0103")]
    public async Task An_expression_that_does_not_compile_is_an_error_task_with_the_diagnostics_and_the_worker_lives(string expr, string code)
    {
        await using var q = await TestQueue.CreateAsync();
        var t = q.Controller.TaskCreateExpr(expr);
        var ok = q.Controller.TaskCreateExpr("1 + 1");
        var w = await q.WorkerAsync();
        Assert.Equal(RrqTaskStatus.Error, (await w.StepAsync()).Status);
        var err = Assert.IsType<RrqTaskError>(q.Controller.TaskResult(t));
        Assert.Equal("Rrq.CompilationError", err.ExceptionType);
        Assert.Contains("does not compile", err.Message);
        Assert.Contains(code, err.Message);
        Assert.Contains("<task>(1,", err.Message);
        Assert.Equal(RrqTaskStatus.Complete, (await w.StepAsync()).Status);
        Assert.Equal(2, q.Controller.TaskResult(ok));
    }

    [Fact]
    public async Task A_value_only_the_worker_knows_comes_back_as_a_snapshot_naming_its_type()
    {
        await using var q = await TestQueue.CreateAsync();
        q.Controller.WorkerEnvirSet(new RrqEnvir([TestQueue.Env("fault.csx")]));
        var t = q.Controller.TaskCreateExpr("fit_model(new[] { 0.0, 1.0, 2.0 }, new[] { 1.0, 3.0, 5.0 })");
        var w = await q.WorkerAsync();
        await w.StepAsync();
        var fit = Assert.IsType<RrqValueSnapshot>(q.Controller.TaskResult(t));
        Assert.EndsWith("+Fit", fit.TypeName);
        Assert.Equal(1.0, Convert.ToDouble(fit["Intercept"], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(2.0, Convert.ToDouble(fit["Slope"], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("Fit { Intercept = 1, Slope = 2 }", fit.ToString());
    }

    [Fact]
    public async Task A_value_that_cannot_be_stored_makes_the_task_an_error_naming_the_type()
    {
        await using var q = await TestQueue.CreateAsync();
        var t = q.Controller.TaskCreateExpr("new Action(() => { })");
        var w = await q.WorkerAsync();
        Assert.Equal(RrqTaskStatus.Error, (await w.StepAsync()).Status);
        var err = Assert.IsType<RrqTaskError>(q.Controller.TaskResult(t));
        Assert.Contains("could not be stored", err.Message);
        Assert.Contains("System.Action", err.Message);
    }

    [Fact]
    public async Task An_expression_prepared_ahead_is_not_compiled_again_when_it_runs_and_preparing_runs_nothing()
    {
        var evaluator = new Rrq.Scripting.RoslynTaskEvaluator();
        var marker = Path.Combine(Path.GetTempPath(), $"rrq-prepare-{Guid.NewGuid():N}");
        var expr = "System.IO.File.WriteAllText(path, \"ran\"); a * 2";
        evaluator.Prepare(expr, new Dictionary<string, object?> { ["path"] = marker, ["a"] = 1 });
        Assert.Equal(1, evaluator.CompiledCount);
        Assert.False(File.Exists(marker));
        var run = await evaluator.EvaluateAsync(new RrqTaskContext("q", "t", "w"), expr,
            new Dictionary<string, object?> { ["path"] = marker, ["a"] = 21 }, CancellationToken.None);
        Assert.True(run.Success, run.Message);
        Assert.Equal(42, run.Value);
        Assert.Equal(1, evaluator.CompiledCount);
        File.Delete(marker);
    }

    [Fact]
    public async Task A_repeated_expression_is_compiled_once()
    {
        await using var q = await TestQueue.CreateAsync();
        var evaluator = new Rrq.Scripting.RoslynTaskEvaluator();
        await using var w = await RrqWorker.CreateAsync(q.Controller, evaluator);
        for (var i = 0; i < 3; i++)
        {
            q.Controller.TaskCreateExpr("a * 2", new { a = i });
        }
        q.Controller.TaskCreateExpr("a * 2", new { a = "not an int" });
        for (var i = 0; i < 4; i++)
        {
            await w.StepAsync();
        }
        // Three ints share one compilation; a string local is a different type, so a second one.
        Assert.Equal(2, evaluator.CompiledCount);
    }

    [Fact]
    public async Task Locals_that_cannot_be_serialized_fail_at_submit_naming_the_local_and_nothing_is_written()
    {
        await using var q = await TestQueue.CreateAsync();
        var e = Assert.Throws<RrqValueException>(() => q.Controller.TaskCreateExpr("f()", new { f = new Func<int>(() => 1) }));
        Assert.Contains("local 'f'", e.Message);
        Assert.Empty(q.Controller.TaskList());
    }

    [Fact]
    public async Task Bad_locals_and_queue_names_are_refused_at_submit()
    {
        await using var q = await TestQueue.CreateAsync();
        Assert.Contains("not a valid C# identifier",
            Assert.Throws<ArgumentException>(() => q.Controller.TaskCreateExpr("1", new Dictionary<string, object?> { ["a b"] = 1 })).Message);
        Assert.Contains("Invalid queue name 'a:b'",
            Assert.Throws<ArgumentException>(() => q.Controller.TaskCreateExpr("1", queue: "a:b")).Message);
        Assert.Contains("anonymous object",
            Assert.Throws<ArgumentException>(() => q.Controller.TaskCreateExpr("1", 42)).Message);
        Assert.Contains("needs separateProcess",
            Assert.Throws<ArgumentException>(() => q.Controller.TaskCreateExpr("1", timeout: TimeSpan.FromSeconds(1))).Message);
        Assert.Empty(q.Controller.TaskList());
    }

    [Fact]
    public async Task An_unknown_task_id_is_missing_everywhere()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var id = new string('a', 32);
        Assert.Equal(RrqTaskStatus.Missing, obj.TaskStatus(id));
        Assert.False(obj.TaskExists(id));
        Assert.Equal(RrqTaskStatus.Missing, obj.TaskInfo(id).Status);
        Assert.Contains($"'{id}' does not exist (MISSING)", Assert.Throws<RrqException>(() => obj.TaskResult(id)).Message);
        Assert.Contains("MISSING", Assert.Throws<RrqException>(() => obj.TaskWait(id)).Message);
        Assert.Contains($"Task '{id}' does not exist", Assert.Throws<RrqException>(() => obj.TaskData(id)).Message);
        var times = obj.TaskTimes([id])[0];
        Assert.Null(times.Submit);
        obj.TaskDelete([id]);
    }

    [Fact]
    public async Task Reading_the_result_of_an_unfinished_task_is_a_clear_error()
    {
        await using var q = await TestQueue.CreateAsync();
        var t = q.Controller.TaskCreateExpr("1");
        var e = Assert.Throws<RrqException>(() => q.Controller.TaskResult(t));
        Assert.Contains("has not finished (PENDING)", e.Message);
    }

    [Fact]
    public async Task TaskDeleteFinished_deletes_whole_chains_finished_before_a_time_and_nothing_unfinished()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var w = await q.WorkerAsync();
        var ok = obj.TaskCreateExpr("1");
        var bad = obj.TaskCreateExpr("int.Parse(\"x\")");
        var again = obj.TaskCreateExpr("int.Parse(\"y\")");
        var retriedOk = obj.TaskCreateExpr("int.Parse(\"z\")");
        for (var i = 0; i < 4; i++)
        {
            await w.StepAsync();
        }
        var pendingRetry = obj.TaskRetry(again);          // its chain has a PENDING newest task: it stays
        var doneRetry = obj.TaskRetry(retriedOk);
        await w.StepAsync();
        await w.StepAsync();                               // runs the retries (both fail again: finished)
        var waiting = obj.TaskCreateExpr("2");            // unfinished: never touched
        Assert.Equal(0, obj.TaskDeleteFinished(DateTimeOffset.UtcNow.AddHours(-1)));

        var later = obj.TaskCreateExpr("3", dependsOn: [waiting]);
        var pendingAgain = obj.TaskRetry(pendingRetry);   // newest of that chain is PENDING now
        var deleted = obj.TaskDeleteFinished(DateTimeOffset.UtcNow.AddSeconds(5));
        Assert.Equal(4, deleted);                          // ok, bad, and the whole chain retriedOk → doneRetry
        Assert.All(obj.TaskStatus([ok, bad, retriedOk, doneRetry], follow: false), st => Assert.Equal(RrqTaskStatus.Missing, st));
        Assert.All(obj.TaskStatus([again, pendingRetry], follow: false), st => Assert.Equal(RrqTaskStatus.Moved, st));
        Assert.Equal([RrqTaskStatus.Pending, RrqTaskStatus.Pending, RrqTaskStatus.Deferred], obj.TaskStatus([pendingAgain, waiting, later], follow: false));
    }

    [Fact]
    public async Task TaskWait_is_woken_by_the_finishing_worker_and_times_out_with_false()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var t = obj.TaskCreateExpr("40 + 2");
        var w = await q.WorkerAsync();   // listens to the queue, but runs nothing until stepped
        Assert.False(await obj.TaskWaitAsync(t, TimeSpan.FromMilliseconds(200)));

        var listening = obj.WaitsListening;
        var waiting = obj.TaskWaitAsync(t, TimeSpan.FromSeconds(30));
        await Poll.Until(() => obj.WaitsListening > listening);
        Assert.False(waiting.IsCompleted);
        await w.StepAsync();
        Assert.True(await waiting);
    }

    [Fact]
    public async Task TaskWait_with_no_worker_listening_to_the_tasks_queue_warns_once_and_returns_false_at_its_timeout()
    {
        await using var q = await TestQueue.CreateAsync();
        var log = new ListLogger();
        await using var obj = await RrqController.ConnectAsync(q.QueueId, RedisServer.Instance.Address, logger: log);

        // No worker at all, and a timeout shorter than the two seconds after which a wait looks for listeners.
        var t = await obj.TaskCreateExprAsync("1");
        Assert.False(await obj.TaskWaitAsync(t, TimeSpan.FromMilliseconds(300)));
        var warning = Assert.Single(log.Lines);
        Assert.StartsWith($"Warning: ⚠ TaskWait: no worker is running on '{q.QueueId}', so nothing will run queue 'default' (task {t})", warning);
        Assert.Contains("WorkerSpawn", warning);

        // rrq's loop: wait a little, find it unfinished, wait again. Each wait says it once; none throws.
        log.Lines.Clear();
        var rounds = 0;
        while (!obj.TaskWait([t], TimeSpan.FromMilliseconds(200), progress: false) && ++rounds < 3)
        {
        }
        Assert.Equal(3, rounds);
        Assert.Equal(3, log.Lines.Count);

        // A longer wait warns once, two seconds in, and not again at its timeout.
        log.Lines.Clear();
        Assert.False(await obj.TaskWaitAsync(t, TimeSpan.FromSeconds(3)));
        Assert.Single(log.Lines);

        // A worker, but not on the queue the task went to (a typo, say).
        log.Lines.Clear();
        var w = await q.WorkerAsync();
        var typo = await obj.TaskCreateExprAsync("2", queue: "gpu-typo");
        var also = await obj.TaskCreateExprAsync("3", queue: "gpu-typo");
        Assert.False(await obj.TaskWaitAsync([typo, also], TimeSpan.FromMilliseconds(500)));
        Assert.Contains($"no live worker listens to queue 'gpu-typo' (task {typo} and 1 more); the 1 live worker listens to 'default'",
            Assert.Single(log.Lines));

        // Someone listens to the task's queue: a plain timeout, false, and no warning.
        log.Lines.Clear();
        Assert.False(await obj.TaskWaitAsync(t, TimeSpan.FromSeconds(3)));
        Assert.Empty(log.Lines);
        await w.StepAsync();
        Assert.True(await obj.TaskWaitAsync(t, TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task TaskWait_without_a_logger_warns_on_standard_error_and_returns_false()
    {
        await using var q = await TestQueue.CreateAsync();
        var script = Path.Combine(Path.GetTempPath(), $"wait-{Guid.NewGuid():N}.csx");
        await File.WriteAllTextAsync(script, $$"""
            using Rrq;
            var obj = RrqController.Connect("{{q.QueueId}}", "{{RedisServer.Instance.Address}}");
            var t = obj.TaskCreateExpr("1", queue: "nobody");
            Console.WriteLine($"waited: {obj.TaskWait(t, TimeSpan.FromMilliseconds(300))}");
            """);
        try
        {
            var (code, output, err) = await RrqWorkerCli.RunAsync("run", script);
            Assert.Equal(0, code);
            Assert.Equal("waited: False", output.Trim());
            Assert.Contains("⚠ TaskWait: no worker is running on", err);
            Assert.Contains("queue 'nobody'", err);
        }
        finally
        {
            File.Delete(script);
        }
    }

    [Fact]
    public async Task A_value_carried_by_the_completion_notice_never_outlives_a_retry_or_a_delete()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var w = await q.WorkerAsync();
        var t = obj.TaskCreateExpr("6 * 7");
        var waiting = obj.TaskWaitAsync(t, TimeSpan.FromSeconds(30));
        await w.StepAsync();
        Assert.True(await waiting);
        Assert.Equal(42, obj.TaskResult(t));
        Assert.Equal(42, obj.TaskResult(t));          // taken once, then read from Redis: the same value

        // Retried through this controller: the old value is not served for the chain.
        var t2 = obj.TaskCreateExpr("\"first\"");
        waiting = obj.TaskWaitAsync(t2, TimeSpan.FromSeconds(30));
        await w.StepAsync();
        Assert.True(await waiting);
        obj.TaskRetry(t2);
        Assert.Contains("has not finished (PENDING)", Assert.Throws<RrqException>(() => obj.TaskResult(t2)).Message);

        // Deleted through another controller: once its notice arrives, the value is gone here too.
        var t3 = obj.TaskCreateExpr("3");
        waiting = obj.TaskWaitAsync(t3, TimeSpan.FromSeconds(30));
        await w.StepAsync();
        await w.StepAsync();
        Assert.True(await waiting);
        await using (var other = await RrqController.ConnectAsync(q.QueueId, RedisServer.Instance.Address))
        {
            other.TaskDelete([t3]);
        }
        // The DELETED notice takes away the value the wait's notice carried: a notice that removes something can only be
        // seen not to have come after a while.
        await Task.Delay(500);
        Assert.Contains("MISSING", Assert.Throws<RrqException>(() => obj.TaskResult(t3)).Message);
    }

    [Fact]
    public async Task A_wait_whose_notification_never_comes_still_sees_the_task_finish()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var t = obj.TaskCreateExpr("1");
        var waiting = obj.TaskWaitAsync(t, TimeSpan.FromSeconds(30));
        await Poll.Until(() => obj.WaitsListening > 0);
        // Finished behind the waiter's back: the status and value are written, no notification is published.
        var db = RedisServer.Instance.Connection.GetDatabase();
        await db.HashSetAsync($"{{{q.QueueId}}}:task:result", t, Rrq.Store.RrqValueCodec.Serialize(7));
        await db.HashSetAsync($"{{{q.QueueId}}}:task:status", t, "COMPLETE");
        var sw = System.Diagnostics.Stopwatch.StartNew();
        Assert.True(await waiting);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), $"took {sw.Elapsed}");
        Assert.Equal(7, obj.TaskResult(t));
    }

    [Fact]
    public async Task A_wait_on_many_tasks_is_woken_when_the_last_settles_not_once_per_task()
    {
        await using var q = await TestQueue.CreateAsync();
        var log = new ListLogger();
        await using var obj = await RrqController.ConnectAsync(q.QueueId, RedisServer.Instance.Address, logger: log);
        var ids = await obj.TaskCreateBulkExprAsync("i", Enumerable.Range(0, 300).Select(i => (object)new { i }));
        var others = await obj.TaskCreateBulkExprAsync("i", Enumerable.Range(0, 50).Select(i => (object)new { i }));
        var w = await q.WorkerAsync();
        var waiting = obj.TaskWaitAsync(ids, TimeSpan.FromSeconds(60), progress: false);
        await Poll.Until(() => obj.WaitsListening > 0);
        var before = obj.WaitWakes;
        for (var i = 0; i < 350; i++)
        {
            await w.StepAsync();   // the 300 first, then 50 tasks nobody waits for
        }
        var sw = System.Diagnostics.Stopwatch.StartNew();
        Assert.True(await waiting);
        Assert.True(sw.Elapsed < RrqController.WaitSafetyPoll, $"took {sw.Elapsed}: the wait polled instead of hearing the notices");
        Assert.InRange(obj.WaitWakes - before, 1, 3);
        Assert.Empty(log.Lines);   // no "finished tasks whose notification it had not seen"
        Assert.Equal(Enumerable.Range(0, 300), obj.TaskResults(ids).Cast<int>());
    }

    [Fact]
    public async Task A_wait_hears_a_retried_task_whose_new_attempt_finishes_at_once()
    {
        await using var q = await TestQueue.CreateAsync();
        var log = new ListLogger();
        await using var obj = await RrqController.ConnectAsync(q.QueueId, RedisServer.Instance.Address, logger: log);
        var w = await q.WorkerAsync();
        for (var round = 0; round < 5; round++)
        {
            // Fails on its first attempt only: the wait is told MOVED, and the retry may finish while the wait is still
            // reading the chain. It must hear that notice too, not find it by polling.
            var marker = Path.Combine(Path.GetTempPath(), "rrq-wait-" + Guid.NewGuid().ToString("N"));
            var t = await obj.TaskCreateExprAsync(
                "((Func<int>)(() => { if (File.Exists(m)) return 2; File.WriteAllText(m, \"\"); throw new Exception(\"first\"); }))()",
                new { m = marker }, retry: new RrqRetryPolicy { MaxAttempts = 2 });
            var listening = obj.WaitsListening;
            var waiting = obj.TaskWaitAsync(t, TimeSpan.FromSeconds(30));
            await Poll.Until(() => obj.WaitsListening > listening);
            Assert.Equal(RrqTaskStatus.Error, (await w.StepAsync()).Status);
            Assert.Equal(RrqTaskStatus.Complete, (await w.StepAsync()).Status);
            var sw = System.Diagnostics.Stopwatch.StartNew();
            Assert.True(await waiting);
            Assert.True(sw.Elapsed < RrqController.WaitSafetyPoll, $"round {round} took {sw.Elapsed}");
            Assert.Equal(2, obj.TaskResult(t));
            File.Delete(marker);
        }
        Assert.Empty(log.Lines);
    }

    [Fact]
    public async Task TaskWait_on_many_tasks_is_true_only_when_all_complete()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var ids = Enumerable.Range(0, 5).Select(i => obj.TaskCreateExpr("i", new { i })).ToList();
        var bad = obj.TaskCreateExpr("throw new Exception(\"no\")");
        var w = await q.WorkerAsync();
        var waitGood = obj.TaskWaitAsync(ids, TimeSpan.FromSeconds(30));
        var waitAll = obj.TaskWaitAsync([.. ids, bad], TimeSpan.FromSeconds(30));
        for (var i = 0; i < 6; i++)
        {
            await w.StepAsync();
        }
        Assert.True(await waitGood);
        Assert.False(await waitAll);
        Assert.Equal([0, 1, 2, 3, 4], obj.TaskResults(ids).Cast<int>());
        var group = Assert.Throws<RrqTaskErrorGroup>(() => obj.TaskResults([.. ids, bad], error: true));
        Assert.Equal(bad, Assert.Single(group.Errors).TaskId);
    }

    [Fact]
    public async Task Times_and_info_describe_the_task_and_its_worker()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var before = DateTimeOffset.UtcNow.AddSeconds(-5);
        var t = obj.TaskCreateExpr("1", queue: "default");
        var pending = obj.TaskTimes(t);
        Assert.NotNull(pending.Submit);
        Assert.Null(pending.Start);
        var w = await q.WorkerAsync("times_worker");
        await w.StepAsync();
        var times = obj.TaskTimes([t])[0];
        Assert.Equal(t, times.TaskId);
        Assert.True(times.Submit > before);
        Assert.True(times.Start >= times.Submit);
        Assert.True(times.Complete >= times.Start);
        Assert.Null(times.Moved);

        var info = obj.TaskInfo(t);
        Assert.Equal(new RrqTaskInfo(t, RrqTaskStatus.Complete, "default", false, null, "times_worker", null,
            info.Depends, info.Moved), info);
        Assert.Empty(info.Depends.Up);
        Assert.Empty(info.Moved.Down);
    }

    [Fact]
    public async Task Task_list_exists_and_delete_cover_every_stored_field()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var a = obj.TaskCreateExpr("1");
        var b = obj.TaskCreateExpr("2");
        Assert.Equal(new[] { a, b }.Order(), obj.TaskList().Order());
        Assert.Equal([true, true, false], obj.TaskExists([a, b, new string('0', 32)]));

        var w = await q.WorkerAsync();
        await w.StepAsync();
        obj.TaskDelete([a, b]);
        Assert.Equal([RrqTaskStatus.Missing, RrqTaskStatus.Missing], obj.TaskStatus([a, b]));
        Assert.Empty(obj.TaskList());
        var db = RedisServer.Instance.Connection.GetDatabase();
        Assert.Equal(0, obj.QueueLength());
        foreach (var field in new[] { "expr", "status", "queue", "local", "result", "time_submit", "time_start", "time_complete", "worker" })
        {
            Assert.False(await db.HashExistsAsync($"{{{q.QueueId}}}:task:{field}", a), field);
        }
        Assert.Equal(RrqWorkerStepKind.Idle, (await w.StepAsync()).Kind);
        // The deleted queued id was left in the list for the claim, which dropped it: nothing of it is left.
        Assert.Equal(0, await db.ListLengthAsync($"{{{q.QueueId}}}:queue:default"));
        Assert.Equal(0, await db.SetLengthAsync($"{{{q.QueueId}}}:queue_skip"));
    }

    [Fact]
    public async Task A_running_task_cannot_be_deleted_and_nothing_is_deleted()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        q.Controller.WorkerEnvirSet(new RrqEnvir([TestQueue.Env("fault.csx")]));
        var other = obj.TaskCreateExpr("1");
        var slow = obj.TaskCreateExpr("slow(2500)");
        var w = await q.WorkerAsync();
        await w.StepAsync();
        var running = w.StepAsync();
        await Poll.Until(async () => await obj.TaskStatusAsync(slow) == RrqTaskStatus.Running);
        var e = await Assert.ThrowsAsync<RrqException>(() => obj.TaskDeleteAsync([other, slow]));
        Assert.Contains($"Cannot delete task '{slow}'", e.Message);
        Assert.Contains("RUNNING", e.Message);
        Assert.True((await obj.TaskExistsAsync([other]))[0]);
        await running;
        Assert.Equal("done", obj.TaskResult(slow));
    }
}
