using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Rrq.Hosting;
using Rrq.Tests.Support;

namespace Rrq.Tests.Hosting;

/// <summary>Rrq in a Microsoft.Extensions host: configuration, workers as a hosted service, health checks.</summary>
public class HostingTests
{
    private static IHost Build(Dictionary<string, string?> settings, Action<IServiceCollection> configure)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddLogging();
        configure(builder.Services);
        return builder.Build();
    }

    [Fact]
    public async Task A_host_connected_through_Sentinel_runs_tasks_in_its_workers_before_and_after_a_failover()
    {
        using var set = new SentinelSet();
        using var host = Build(new()
        {
            ["Rrq:QueueId"] = $"rrq-test:hosting-sentinel:{Guid.NewGuid():N}",
            ["Rrq:Redis"] = set.ConnectionString,
            ["Rrq:Worker:Count"] = "1",
        }, s =>
        {
            s.AddRrq();
            s.AddRrqWorker();
            s.AddHealthChecks().AddRrq(minimumWorkers: 1);
        });
        var obj = host.Services.GetRequiredService<RrqController>();
        await host.StartAsync();
        try
        {
            Assert.Equal(3, await obj.TaskResultAsync(await Run("1 + 2")));
            var old = set.KillMaster();
            await Poll.Until(() => set.Master() is var m && m != 0 && m != old, 60);
            Assert.Equal(7, await obj.TaskResultAsync(await Run("3 + 4")));
            var health = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
            Assert.Equal(HealthStatus.Healthy, health.Status);
        }
        finally
        {
            await host.StopAsync();
        }

        async Task<string> Run(string expr)
        {
            var id = await obj.TaskCreateExprAsync(expr);
            Assert.True(await obj.TaskWaitAsync(id, TimeSpan.FromSeconds(60)), $"{await obj.TaskStatusAsync(id)}");
            return id;
        }
    }

    [Fact]
    public async Task AddRrq_and_AddRrqWorker_bind_the_Rrq_section_run_tasks_report_health_and_finish_a_running_task_at_shutdown()
    {
        var queueId = $"rrq-test:hosting:{Guid.NewGuid():N}";
        using var host = Build(new()
        {
            ["Rrq:QueueId"] = queueId,
            ["Rrq:Redis"] = RedisServer.Instance.Address,
            ["Rrq:TimeoutTaskWait"] = "00:01:00",
            ["Rrq:Worker:Count"] = "2",
            ["Rrq:Worker:Name"] = "hosted",
        }, s =>
        {
            s.AddRrq();
            s.AddRrqWorker();
            s.AddHealthChecks().AddRrq(minimumWorkers: 2);
        });
        var obj = host.Services.GetRequiredService<RrqController>();
        Assert.Equal(queueId, obj.QueueId);
        Assert.Equal(TimeSpan.FromMinutes(1), obj.TimeoutTaskWait);
        var health = host.Services.GetRequiredService<HealthCheckService>();
        var before = await health.CheckHealthAsync();
        Assert.Equal(HealthStatus.Healthy, before.Entries["rrq-redis"].Status);
        Assert.Equal(HealthStatus.Unhealthy, before.Entries["rrq-workers"].Status);
        Assert.Equal($"0 live workers on queue '{queueId}' (at least 2 expected)", before.Entries["rrq-workers"].Description);

        await obj.WorkerEnvirSetAsync(new RrqEnvir([TestQueue.Env("fault.csx")]));
        await host.StartAsync();
        try
        {
            await Poll.Until(async () => (await obj.WorkerListAsync()).Count == 2, 30);
            Assert.Equal(["hosted_1", "hosted_2"], (await obj.WorkerListAsync()).Order());
            var after = await health.CheckHealthAsync();
            Assert.Equal(HealthStatus.Healthy, after.Status);
            Assert.Equal($"2 live workers on queue '{queueId}'", after.Entries["rrq-workers"].Description);

            var ok = await obj.TaskCreateExprAsync("fit_model(new[] { 0.0, 1.0 }, new[] { 1.0, 3.0 })");
            var bad = await obj.TaskCreateExprAsync("fit_model(new[] { 0.0 }, null)");
            Assert.True(await obj.TaskWaitAsync(ok));
            Assert.False(await obj.TaskWaitAsync(bad));
            Assert.IsType<RrqTaskError>(await obj.TaskResultAsync(bad));

            // Graceful shutdown: a task running when the host stops runs to its end and is recorded.
            var slow = await obj.TaskCreateExprAsync("System.Threading.Thread.Sleep(1500); 42");
            await Poll.Until(async () => (await obj.TaskStatusAsync([slow]))[0] == RrqTaskStatus.Running, 30);
        }
        finally
        {
            await host.StopAsync();
        }
        Assert.Empty(await obj.WorkerListAsync());
        Assert.Equal(RrqWorkerStatus.Exited, await obj.WorkerStatusAsync("hosted_1"));
        Assert.Equal(RrqWorkerStatus.Exited, await obj.WorkerStatusAsync("hosted_2"));
        var statuses = await obj.TaskStatusAsync(await obj.TaskListAsync());
        Assert.DoesNotContain(RrqTaskStatus.Running, statuses);
        Assert.DoesNotContain(RrqTaskStatus.Died, statuses);
        Assert.Equal(2, statuses.Count(st => st == RrqTaskStatus.Complete));   // ok and the slow one
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task A_signing_key_file_in_configuration_signs_what_the_app_submits_and_its_hosted_workers_check_it()
    {
        var queueId = $"rrq-test:hosting-keys:{Guid.NewGuid():N}";
        var dir = Directory.CreateTempSubdirectory("rrq-hosting-keys-");
        var keyFile = Path.Combine(dir.FullName, "keys");
        File.WriteAllText(keyFile, "a-hosted-app-signing-key-0123456789\n");
        File.SetUnixFileMode(keyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        using var host = Build(new()
        {
            ["Rrq:QueueId"] = queueId,
            ["Rrq:Redis"] = RedisServer.Instance.Address,
            ["Rrq:SigningKeyFile"] = keyFile,
        }, s =>
        {
            s.AddRrq();
            s.AddRrqWorker();
        });
        var obj = host.Services.GetRequiredService<RrqController>();
        Assert.Equal(keyFile, obj.SigningKeys?.File);
        await host.StartAsync();
        try
        {
            var signed = await obj.TaskCreateExprAsync("1 + 1");
            await using var keyless = await RrqController.ConnectAsync(queueId, RedisServer.Instance.Address);
            var unsigned = await keyless.TaskCreateExprAsync("2 + 2");
            Assert.True(await obj.TaskWaitAsync(signed, TimeSpan.FromSeconds(30)));
            Assert.False(await obj.TaskWaitAsync(unsigned, TimeSpan.FromSeconds(30)));
            Assert.Contains("is not signed by queue", Assert.IsType<RrqTaskError>(obj.TaskResult(unsigned)).Message);
        }
        finally
        {
            await host.StopAsync();
            await obj.DestroyAsync();
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void A_missing_queue_id_is_a_clear_error_naming_the_setting()
    {
        using var host = Build(new() { ["Rrq:Redis"] = RedisServer.Instance.Address }, s => s.AddRrq());
        var e = Assert.Throws<OptionsValidationException>(() => host.Services.GetRequiredService<RrqController>());
        Assert.Contains("Rrq has no queue id: set \"Rrq:QueueId\" in configuration", e.Message);
    }

    [Fact]
    public async Task The_redis_check_is_unhealthy_naming_the_address_when_nothing_answers()
    {
        var nowhere = $"127.0.0.1:{Rrq.Embedded.LoopbackPort.Free()}";
        using var host = Build(new() { ["Rrq:QueueId"] = "rrq-test:hosting:nowhere", ["Rrq:Redis"] = nowhere },
            s => { s.AddRrq(); s.AddHealthChecks().AddRrq(minimumWorkers: 0); });
        var report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        Assert.Equal(HealthStatus.Unhealthy, report.Status);
        Assert.Contains(nowhere, report.Entries["rrq-redis"].Description);
        Assert.False(report.Entries.ContainsKey("rrq-workers"));
    }
}
