using Rrq.Tests.Support;

namespace Rrq.Tests.Tasks;

public class BulkAndQueueTests
{
    [Fact]
    public async Task A_bulk_expr_makes_one_task_per_element_with_its_members_as_locals_and_shared_values_stored_once()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var big = Enumerable.Range(0, 1000).Select(i => (double)i).ToArray();
        var data = Enumerable.Range(0, 50).Select(i => new { i, label = $"n{i}" });
        var ids = obj.TaskCreateBulkExpr("$\"{label}:{i + offset}:{big.Length}\"", data, shared: new { offset = 100, big });
        Assert.Equal(50, ids.Count);
        Assert.Equal(50, obj.QueueLength());
        Assert.Equal(ids, obj.QueueList());

        // The shared values are stored once, not fifty times.
        var db = RedisServer.Instance.Connection.GetDatabase();
        Assert.Equal(1, await db.HashLengthAsync($"{{{q.QueueId}}}:shared"));
        Assert.Equal(100, obj.TaskData(ids[3]).Locals["offset"]);

        var w = await q.WorkerAsync();
        for (var i = 0; i < 50; i++)
        {
            await w.StepAsync();
        }
        Assert.True(obj.TaskWait(ids, TimeSpan.FromSeconds(5), progress: false));
        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"n{i}:{i + 100}:1000"), obj.TaskResults(ids).Cast<string>());

        obj.TaskDelete(ids.Take(49));
        Assert.Equal(1, await db.HashLengthAsync($"{{{q.QueueId}}}:shared"));
        obj.TaskDelete([ids[49]]);
        Assert.Equal(0, await db.HashLengthAsync($"{{{q.QueueId}}}:shared"));
    }

    [Fact]
    public async Task A_bulk_call_passes_each_element_as_the_argument_or_as_named_arguments()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        obj.WorkerEnvirSet(new RrqEnvir([TestQueue.Env("fault.csx")]));
        var single = obj.TaskCreateBulkCall("Math.Sqrt", [4.0, 9.0, 16.0]);
        var named = obj.TaskCreateBulkCall("Math.Round", [new { value = 2.567, digits = 1 }, new { value = 1.234, digits = 2 }]);
        var withShared = obj.TaskCreateBulkCall("Math.Max", [new { val1 = 1 }, new { val1 = 7 }], shared: new { val2 = 5 });
        Assert.Equal("Math.Sqrt(arg)", obj.TaskData(single[0]).Expression);
        Assert.Equal("Math.Round(value: value, digits: digits)", obj.TaskData(named[0]).Expression);
        var w = await q.WorkerAsync();
        for (var i = 0; i < 7; i++)
        {
            await w.StepAsync();
        }
        Assert.Equal([2.0, 3.0, 4.0], obj.TaskResults(single).Cast<double>());
        Assert.Equal([2.6, 1.23], obj.TaskResults(named).Cast<double>());
        Assert.Equal([5, 7], obj.TaskResults(withShared).Cast<int>());
    }

    [Fact]
    public async Task A_single_call_takes_named_arguments_one_argument_or_none_and_refuses_what_is_not_a_function_name()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var named = obj.TaskCreateCall("Math.Round", new { value = 2.567, digits = 1 });
        var single = obj.TaskCreateCall("Math.Sqrt", 16.0);
        var none = obj.TaskCreateCall("System.Environment.ProcessorCount.ToString");
        var generic = obj.TaskCreateCall("System.Linq.Enumerable.Empty<int>");
        var retried = obj.TaskCreateCall("System.IO.File.ReadAllText", new { path = "/nonexistent/rrq" },
            retry: new RrqRetryPolicy { MaxAttempts = 2 });
        Assert.Equal("Math.Round(value: value, digits: digits)", obj.TaskData(named).Expression);
        Assert.Equal(2.567, obj.TaskData(named).Locals["value"]);
        Assert.Equal("Math.Sqrt(arg)", obj.TaskData(single).Expression);
        Assert.Equal("System.Environment.ProcessorCount.ToString()", obj.TaskData(none).Expression);
        var w = await q.WorkerAsync();
        for (var i = 0; i < 6; i++)
        {
            await w.StepAsync();
        }
        Assert.Equal(2.6, obj.TaskResult(named));
        Assert.Equal(4.0, obj.TaskResult(single));
        Assert.Equal(Environment.ProcessorCount.ToString(System.Globalization.CultureInfo.InvariantCulture), obj.TaskResult(none));
        Assert.Empty((IEnumerable<int>)obj.TaskResult(generic)!);
        Assert.Equal([RrqTaskStatus.Moved, RrqTaskStatus.Error], obj.TaskInfo(retried).Moved.Down.Prepend(retried)
            .Select(t => obj.TaskStatus(t, follow: false)));

        var before = obj.TaskList().Count;
        foreach (var bad in new[] { "f(1)", "x; Environment.Exit(1)", "a.", "1abc", "" })
        {
            var e = Assert.ThrowsAny<ArgumentException>(() => obj.TaskCreateCall(bad));
            Assert.Equal("function", e.ParamName);
        }
        Assert.Contains("'f(1)' is not a function name", Assert.Throws<ArgumentException>(() => obj.TaskCreateCall("f(1)")).Message);
        Assert.Throws<ArgumentException>(() => obj.TaskCreateBulkCall("f()", [1]));
        Assert.Equal(before, obj.TaskList().Count);                            // nothing was submitted
    }

    [Fact]
    public async Task An_empty_bulk_creates_nothing_and_mismatched_elements_are_refused_naming_the_element()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        Assert.Empty(obj.TaskCreateBulkExpr("x", Array.Empty<object>()));
        var e = Assert.Throws<ArgumentException>(() => obj.TaskCreateBulkExpr("x", [new { x = 1 }, new { x = 2 }, new { y = 3 }]));
        Assert.Contains("Element 2 of data has members (y) but element 0 has (x)", e.Message);
        var clash = Assert.Throws<ArgumentException>(() => obj.TaskCreateBulkExpr("x", [new { x = 1 }], shared: new { x = 2 }));
        Assert.Contains("'x' is both a shared local and a member", clash.Message);
        Assert.Empty(obj.TaskList());
    }

    [Fact]
    public async Task Bulk_tasks_can_depend_on_a_task_and_thousands_go_in_a_few_round_trips()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var first = obj.TaskCreateExpr("0");
        var ids = obj.TaskCreateBulkExpr("i", Enumerable.Range(0, 2500).Select(i => new { i }), dependsOn: [first]);
        Assert.Equal(2500, ids.Distinct().Count());
        Assert.Equal(2500, obj.TaskOverview(ids)[RrqTaskStatus.Deferred]);
        var w = await q.WorkerAsync();
        await w.StepAsync();
        Assert.Equal(2500, obj.QueueLength());
        Assert.Equal(ids, obj.QueueList());   // released to the front, in the order they were submitted
    }

    [Fact]
    public async Task Positions_and_preceding_tasks_follow_the_queue_order()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var a = obj.TaskCreateExpr("1");
        var b = obj.TaskCreateExpr("2");
        var c = obj.TaskCreateExpr("3", queue: "other");
        Assert.Equal([1L, 2L, 1L, 0L], obj.TaskPosition([a, b, c, new string('0', 32)]));
        Assert.Equal(-1, obj.TaskPosition(new string('0', 32), missing: -1));
        Assert.Empty(obj.TaskPreceeding(a)!);
        Assert.Equal([a], obj.TaskPreceding(b));
        Assert.Empty(obj.TaskPreceding(c)!);
        Assert.Equal(["default", "other"], obj.QueueNames());
        var w = await q.WorkerAsync();
        await w.StepAsync();
        Assert.Null(obj.TaskPreceeding(a));
        Assert.Equal(1, obj.TaskPosition(b));
    }

    [Fact]
    public async Task Removing_a_task_from_its_queue_cancels_it_rather_than_stranding_it()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var a = obj.TaskCreateExpr("1");
        var b = obj.TaskCreateExpr("2");
        var dependent = obj.TaskCreateExpr("3", dependsOn: [a]);
        var waiting = obj.TaskWaitAsync([a, dependent], TimeSpan.FromSeconds(30));
        await Poll.Until(() => obj.WaitsListening > 0);
        Assert.Equal([true, false], obj.QueueRemove([a, dependent]));
        Assert.Equal([b], obj.QueueList());
        Assert.Equal([RrqTaskStatus.Cancelled, RrqTaskStatus.Pending, RrqTaskStatus.Impossible], obj.TaskStatus([a, b, dependent]));
        // Its waiters hear it (one notice for the slice), and it counts as finished for retention.
        var sw = System.Diagnostics.Stopwatch.StartNew();
        Assert.False(await waiting);
        Assert.True(sw.Elapsed < RrqController.WaitSafetyPoll, $"took {sw.Elapsed}");
        var db = RedisServer.Instance.Connection.GetDatabase();
        Assert.NotNull(await db.SortedSetScoreAsync(obj.Keys.DoneFailed, a));
        Assert.NotNull(obj.TaskTimes(a).Complete);
        Assert.Empty(obj.QueueRemove([]));
    }

    [Fact]
    public async Task Tasks_cancelled_removed_or_deleted_while_queued_leave_lengths_lists_and_places_at_once_and_a_claim_drops_them()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var ids = obj.TaskCreateBulkExpr("i", Enumerable.Range(0, 10).Select(i => new { i }));
        Assert.True(obj.TaskCancel(ids[1]));
        Assert.Equal([true, false], obj.QueueRemove([ids[2], ids[1]]));   // the second is CANCELLED already
        obj.TaskDelete([ids[3]]);
        var left = ids.Where((_, i) => i is not (1 or 2 or 3)).ToList();
        Assert.Equal(7, obj.QueueLength());
        Assert.Equal(left, obj.QueueList());
        Assert.Equal(3, obj.TaskPosition(ids[5]));                        // ids[0], ids[4], then ids[5]
        Assert.Equal(1, await RedisServer.Instance.Connection.GetDatabase().SetLengthAsync(new Rrq.Keys.RrqKeys(q.QueueId).QueueSkip) > 0 ? 1 : 0);

        // Their ids are dropped by the claims that reach them; nothing else is run.
        var w = await q.WorkerAsync();
        var ran = new List<string>();
        RrqWorkerStep step;
        while ((step = await w.StepAsync()).Kind == RrqWorkerStepKind.Task)
        {
            ran.Add(step.TaskId!);
        }
        Assert.Equal(left, ran);
        var db = RedisServer.Instance.Connection.GetDatabase();
        var keys = new Rrq.Keys.RrqKeys(q.QueueId);
        Assert.Equal(0, await db.SetLengthAsync(keys.QueueSkip));
        Assert.Equal(0, (long)await db.HashGetAsync(keys.QueueSkipCount, "default"));
        Assert.Equal(0, obj.QueueLength());
    }

    [Fact]
    public async Task Deleting_and_removing_thousands_of_tasks_goes_in_slices_of_whole_chains_and_leaves_nothing_behind()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var w = await q.WorkerAsync();
        var failed = obj.TaskCreateExpr("int.Parse(\"x\")");
        await w.StepAsync();
        var retried = obj.TaskRetry(failed);                     // a chain of two: it must go whole, in one slice
        var many = obj.TaskCreateBulkExpr("i", Enumerable.Range(0, 1200).Select(i => new { i }));
        var parent = obj.TaskCreateExpr("0");
        var dependents = obj.TaskCreateBulkExpr("i", Enumerable.Range(0, 700).Select(i => new { i }), dependsOn: [parent]);

        obj.TaskDelete([.. many.Take(600), failed]);
        Assert.All(obj.TaskStatus([.. many.Take(600), failed, retried], follow: false), st => Assert.Equal(RrqTaskStatus.Missing, st));
        Assert.Equal(601, obj.QueueLength());                   // 600 of the bulk, and the parent
        Assert.All(obj.QueueRemove(many.Skip(600)), Assert.True);
        Assert.Equal([parent], obj.QueueList());

        // A task with hundreds of dependents: deleting it makes them IMPOSSIBLE and takes its links with it.
        Assert.Equal(700, obj.TaskInfo(parent).Depends.Down.Count);
        obj.TaskDelete(parent);
        Assert.All(obj.TaskStatus(dependents), st => Assert.Equal(RrqTaskStatus.Impossible, st));
        var db = RedisServer.Instance.Connection.GetDatabase();
        Assert.Equal(0, await db.SortedSetLengthAsync(new Rrq.Keys.RrqKeys(q.QueueId).TaskDependsDown));
    }

    [Fact]
    public async Task A_bulk_delete_or_remove_cut_off_after_its_first_slice_leaves_every_task_whole_and_can_simply_be_run_again()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var doomed = obj.TaskCreateBulkExpr("i", Enumerable.Range(0, 300).Select(i => new { i }));
        var removed = obj.TaskCreateBulkExpr("i", Enumerable.Range(0, 300).Select(i => new { i }));

        // Each bulk call's first script alone, as if its process died after it.
        await obj.Queue.TaskDeleteAsync([.. doomed.Take(100)], ["default"], CancellationToken.None);
        await obj.Queue.QueueRemoveAsync([.. removed.Take(100)], "default", CancellationToken.None);
        Assert.All(obj.TaskStatus(doomed.Take(100)), st => Assert.Equal(RrqTaskStatus.Missing, st));
        Assert.All(obj.TaskStatus(removed.Take(100)), st => Assert.Equal(RrqTaskStatus.Cancelled, st));
        Assert.All(obj.TaskStatus([.. doomed.Skip(100), .. removed.Skip(100)]), st => Assert.Equal(RrqTaskStatus.Pending, st));
        Assert.Equal([.. doomed.Skip(100), .. removed.Skip(100)], obj.QueueList());
        Assert.Equal(400, obj.QueueLength());

        // The same calls again, whole: what was done is not done twice, and the rest is done.
        obj.TaskDelete(doomed);
        Assert.Equal([.. Enumerable.Repeat(false, 100), .. Enumerable.Repeat(true, 200)], obj.QueueRemove(removed));
        Assert.All(obj.TaskStatus(doomed), st => Assert.Equal(RrqTaskStatus.Missing, st));
        Assert.All(obj.TaskStatus(removed), st => Assert.Equal(RrqTaskStatus.Cancelled, st));
        Assert.Equal(0, obj.QueueLength());
        var w = await q.WorkerAsync();
        Assert.Equal(RrqWorkerStepKind.Idle, (await w.StepAsync()).Kind);
    }

    [Fact]
    public async Task A_claim_drops_at_most_a_thousand_skipped_ids_then_the_worker_claims_again_at_once()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var w = await q.WorkerAsync();
        obj.TaskCreateExpr("41");
        Assert.Equal(RrqTaskStatus.Complete, (await w.StepAsync()).Status);   // the compiler warmed: the bound below is the claims'
        var doomed = obj.TaskCreateBulkExpr("i", Enumerable.Range(0, 1500).Select(i => new { i }));
        var last = obj.TaskCreateExpr("42");
        Assert.All(obj.QueueRemove(doomed), removed => Assert.True(removed));
        Assert.Equal(1, obj.QueueLength());
        using var cts = new CancellationTokenSource();
        var running = w.RunAsync(cts.Token);
        Assert.True(await obj.TaskWaitAsync(last, TimeSpan.FromSeconds(3)));   // well before a 5 s poll
        await cts.CancelAsync();
        await running;
        Assert.Equal(0, await RedisServer.Instance.Connection.GetDatabase().SetLengthAsync(new Rrq.Keys.RrqKeys(q.QueueId).QueueSkip));
    }

    [Fact]
    public async Task Waiting_with_progress_draws_a_bar_on_standard_error()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var ids = obj.TaskCreateBulkExpr("i", Enumerable.Range(0, 3).Select(i => new { i }));
        var w = await q.WorkerAsync();
        var stderr = Console.Error;
        var captured = new StringWriter();
        try
        {
            var writer = TextWriter.Synchronized(captured);   // its methods lock on itself
            Console.SetError(writer);
            var waiting = obj.TaskWaitAsync(ids, TimeSpan.FromSeconds(30), progress: true);
            // The bar is drawn once the wait has read where the tasks stand: only then run them.
            await Poll.Until(() => { lock (writer) { return captured.ToString().Contains("0/3 finished (0%)"); } });
            for (var i = 0; i < 3; i++)
            {
                await w.StepAsync();
            }
            Assert.True(await waiting);
        }
        finally
        {
            Console.SetError(stderr);
        }
        var text = captured.ToString();
        Assert.Contains("0/3 finished (0%)", text);
        Assert.Contains("] 3/3 finished (100%)", text);
        Assert.EndsWith(Environment.NewLine, text);
    }

    [Fact]
    public async Task The_overview_counts_every_status_zeros_included()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var ok = obj.TaskCreateExpr("1");
        var bad = obj.TaskCreateExpr("throw new Exception()");
        obj.TaskCreateExpr("3");
        var w = await q.WorkerAsync();
        await w.StepAsync();
        await w.StepAsync();
        var all = obj.TaskOverview();
        Assert.Equal(1, all[RrqTaskStatus.Complete]);
        Assert.Equal(1, all[RrqTaskStatus.Error]);
        Assert.Equal(1, all[RrqTaskStatus.Pending]);
        Assert.Equal(0, all[RrqTaskStatus.Died]);
        Assert.False(all.ContainsKey(RrqTaskStatus.Missing));
        Assert.Equal(Enum.GetValues<RrqTaskStatus>().Length - 1, all.Count);
        var some = obj.TaskOverview([ok, bad, new string('0', 32)]);
        Assert.Equal(1, some[RrqTaskStatus.Missing]);
        Assert.Equal(0, some[RrqTaskStatus.Pending]);
        // It prints as counts, not as a type name.
        var shown = $"{all}";
        Assert.StartsWith("PENDING 1, ", shown, StringComparison.Ordinal);
        Assert.Contains("COMPLETE 1", shown);
        Assert.Contains("ERROR 1", shown);
        Assert.DoesNotContain("System.", shown);

        var log = obj.WorkerLogTail(w.Id, 0);
        var printed = $"{log}".Split('\n');
        Assert.Equal(log.Count, printed.Length);
        Assert.Contains(printed, l => l.Contains(w.Id, StringComparison.Ordinal) && l.Contains("TASK_COMPLETE", StringComparison.Ordinal)
            && l.EndsWith(ok, StringComparison.Ordinal));
        Assert.DoesNotContain("Rrq.RrqWorkerLogEntry", $"{log}");
    }

    [Fact]
    public async Task Results_with_error_true_throw_every_failure_grouped()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var ids = obj.TaskCreateBulkExpr("i % 2 == 0 ? i : throw new InvalidOperationException($\"odd {i}\")",
            Enumerable.Range(0, 4).Select(i => new { i }));
        var w = await q.WorkerAsync();
        for (var i = 0; i < 4; i++)
        {
            await w.StepAsync();
        }
        var e = Assert.Throws<RrqTaskErrorGroup>(() => obj.TaskResults(ids, error: true));
        Assert.Equal(2, e.Errors.Count);
        Assert.Equal(4, e.Total);
        Assert.StartsWith("2/4 tasks failed:", e.Message);
        Assert.Contains($"{ids[1]}: odd 1", e.Message);
        Assert.Contains("* To inspect individual errors, see .Errors", e.ToString());
        Assert.IsAssignableFrom<RrqTaskError>(e);
        Assert.Equal([0, 2], obj.TaskResults([ids[0], ids[2]], error: true).Cast<int>());
    }
}
