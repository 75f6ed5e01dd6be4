using Rrq.Tests.Support;

namespace Rrq.Tests.Workers;

public class WorkerConfigTests
{
    [Fact]
    public async Task Configs_are_saved_read_and_listed_by_name()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var cfg = new RrqWorkerConfig { Queues = ["short", "long"], PollQueue = TimeSpan.FromSeconds(2), TimeoutIdle = TimeSpan.FromMinutes(5), Verbose = false };
        Assert.True(obj.WorkerConfigSave("big", cfg));
        Assert.Equal(["big", "localhost"], obj.WorkerConfigList());
        var back = obj.WorkerConfigRead("big");
        Assert.Equal(["short", "long"], back.Queues);
        Assert.Equal(["short", "long", "default"], back.EffectiveQueues);
        Assert.Equal(TimeSpan.FromMinutes(5), back.TimeoutIdle);
        Assert.False(back.Verbose);
        Assert.Equal(RrqWorkerConfig.DefaultHeartbeatPeriod, back.HeartbeatPeriod);   // on unless a config says null
        Assert.Equal(TimeSpan.FromSeconds(5), RrqWorkerConfig.DefaultHeartbeatPeriod);

        Assert.False(obj.WorkerConfigSave("big", new RrqWorkerConfig(), overwrite: false));
        Assert.Equal(["short", "long"], obj.WorkerConfigRead("big").Queues);

        var localhost = obj.WorkerConfigRead("localhost");
        Assert.Equal(["default"], localhost.EffectiveQueues);
        Assert.Equal(TimeSpan.FromSeconds(5), localhost.PollQueue);
    }

    [Fact]
    public async Task The_default_queue_keeps_the_place_it_is_listed_at()
    {
        var cfg = new RrqWorkerConfig { Queues = ["default", "long"] };
        Assert.Equal(["default", "long"], cfg.EffectiveQueues);
        await Task.CompletedTask;
    }

    [Fact]
    public async Task Reading_an_unknown_config_names_the_ones_that_exist()
    {
        await using var q = await TestQueue.CreateAsync();
        var e = Assert.Throws<RrqException>(() => q.Controller.WorkerConfigRead("nope"));
        Assert.Contains("No worker configuration 'nope'", e.Message);
        Assert.Contains("localhost", e.Message);
    }

    [Theory]
    [InlineData("HeartbeatPeriod")]
    [InlineData("PollQueue")]
    [InlineData("TimeoutIdle")]
    [InlineData("Queues")]
    public async Task Invalid_fields_are_refused_at_save_naming_the_field(string field)
    {
        await using var q = await TestQueue.CreateAsync();
        var cfg = field switch
        {
            "HeartbeatPeriod" => new RrqWorkerConfig { HeartbeatPeriod = TimeSpan.Zero },
            "PollQueue" => new RrqWorkerConfig { PollQueue = TimeSpan.FromSeconds(-1) },
            "TimeoutIdle" => new RrqWorkerConfig { TimeoutIdle = TimeSpan.FromSeconds(-1) },
            _ => new RrqWorkerConfig { Queues = ["bad:name"] },
        };
        var e = Assert.ThrowsAny<ArgumentException>(() => q.Controller.WorkerConfigSave("bad", cfg));
        Assert.Equal(field, e.ParamName);
        Assert.Equal(["localhost"], q.Controller.WorkerConfigList());
    }
}
