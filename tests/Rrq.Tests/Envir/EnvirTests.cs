using Rrq.Tests.Support;

namespace Rrq.Tests.Envir;

public class EnvirTests
{
    [Fact]
    public async Task The_environment_is_stored_in_redis_with_its_text_and_a_growing_version()
    {
        await using var q = await TestQueue.CreateAsync();
        Assert.Equal(0, q.Controller.WorkerEnvirGet().Version);
        q.Controller.WorkerEnvirSet(new RrqEnvir([TestQueue.Env("fault.csx")], Usings: ["System.Text"]));
        var spec = q.Controller.WorkerEnvirGet();
        Assert.Equal(1, spec.Version);
        Assert.Equal(File.ReadAllText(TestQueue.Env("fault.csx")), spec.Sources.Single().Text);
        Assert.Equal(["System.Text"], spec.Usings);
        q.Controller.WorkerEnvirSet(new RrqEnvir([TestQueue.Env("version2.csx")]));
        Assert.Equal(2, q.Controller.WorkerEnvirGet().Version);
    }

    [Fact]
    public async Task A_missing_source_file_is_refused_naming_the_path_and_nothing_changes()
    {
        await using var q = await TestQueue.CreateAsync();
        var e = Assert.Throws<RrqEnvirException>(() => q.Controller.WorkerEnvirSet(new RrqEnvir(["no/such/file.csx"])));
        Assert.Contains("'no/such/file.csx' does not exist", e.Message);
        Assert.Contains(Path.GetFullPath("no/such/file.csx"), e.Message);
        Assert.Equal(0, q.Controller.WorkerEnvirGet().Version);
    }

    [Fact]
    public async Task A_source_that_does_not_compile_is_refused_with_diagnostics_and_running_workers_keep_the_old_one()
    {
        await using var q = await TestQueue.CreateAsync();
        var (obj, w, t1) = await WorkerOnVersionOne(q);
        Assert.Equal(1, obj.TaskResult(t1));

        var e = Assert.Throws<RrqEnvirException>(() => obj.WorkerEnvirSet(new RrqEnvir([TestQueue.Env("broken.csx")])));
        Assert.Contains("does not compile", e.Message);
        var diagnostic = Assert.Single(e.Diagnostics);
        Assert.Contains("broken.csx(2,", diagnostic);
        Assert.Contains("CS0029", diagnostic);
        Assert.Equal(1, obj.WorkerEnvirGet().Version);

        var t2 = obj.TaskCreateExpr("Version()");
        await w.StepAsync();
        Assert.Equal(1, obj.TaskResult(t2));
    }

    [Fact]
    public async Task A_running_worker_reloads_a_new_environment_before_its_next_task()
    {
        await using var q = await TestQueue.CreateAsync();
        var (obj, w, t1) = await WorkerOnVersionOne(q);
        Assert.Equal(1, w.EnvirVersion);

        obj.WorkerEnvirSet(new RrqEnvir([TestQueue.Env("version2.csx")]));
        var t2 = obj.TaskCreateExpr("Version()");
        await w.StepAsync();
        Assert.Equal(2, w.EnvirVersion);
        Assert.Equal(1, obj.TaskResult(t1));
        Assert.Equal(2, obj.TaskResult(t2));
        Assert.Contains(obj.WorkerLogTail(w.Id, 0), l => l.Command == "ENVIR" && l.Message.StartsWith("version 2", StringComparison.Ordinal));
    }

    /// <summary>A queue on environment version 1 (fault.csx) with an in-process worker that has run Version() once.</summary>
    private static async Task<(RrqController, RrqWorker, string)> WorkerOnVersionOne(TestQueue q)
    {
        q.Controller.WorkerEnvirSet(new RrqEnvir([TestQueue.Env("fault.csx")]));
        var w = await q.WorkerAsync();
        var t1 = q.Controller.TaskCreateExpr("Version()");
        await w.StepAsync();
        return (q.Controller, w, t1);
    }

    [Fact]
    public async Task Files_loaded_by_a_source_are_stored_too_so_workers_need_no_shared_filesystem()
    {
        await using var q = await TestQueue.CreateAsync();
        var dir = Directory.CreateTempSubdirectory("rrq-envir-");
        File.Copy(TestQueue.Env("loads.csx"), Path.Combine(dir.FullName, "loads.csx"));
        Directory.CreateDirectory(Path.Combine(dir.FullName, "helpers"));
        File.Copy(TestQueue.Env("helpers/helper.csx"), Path.Combine(dir.FullName, "helpers", "helper.csx"));
        q.Controller.WorkerEnvirSet(new RrqEnvir([Path.Combine(dir.FullName, "loads.csx")]));
        Assert.Single(q.Controller.WorkerEnvirGet().Loads);
        dir.Delete(recursive: true);   // the worker must work from what is in Redis

        var t = q.Controller.TaskCreateExpr("Twice(4)");
        var w = await q.WorkerAsync();
        await w.StepAsync();
        Assert.Equal(10, q.Controller.TaskResult(t));
    }

    [Fact]
    public async Task A_missing_loaded_file_is_refused_naming_it()
    {
        await using var q = await TestQueue.CreateAsync();
        var dir = Directory.CreateTempSubdirectory("rrq-envir-");
        var file = Path.Combine(dir.FullName, "main.csx");
        File.WriteAllText(file, "#load \"gone.csx\"\npublic int A() => 1;\n");
        var e = Assert.Throws<RrqEnvirException>(() => q.Controller.WorkerEnvirSet(new RrqEnvir([file])));
        Assert.Contains("loads 'gone.csx', which does not exist", e.Message);
        dir.Delete(recursive: true);
    }
}
