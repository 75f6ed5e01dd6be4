using System.CommandLine;
using Rrq;
using Rrq.Bench;

// Rrq benchmark. Starts a private redis-server (unless RRQ_REDIS is set), measures a baseline
// (Redis PING from this process) and then Rrq, and reports Rrq's figures both in time and as
// ratios to the baseline measured in the same run, because the machine is shared and noisy.
// Workers run on the default config, as a user starts them. The peer, BullMQ, runs the same
// workloads against the same server in the same run (bench/peers/bullmq, installed there with npm
// on first use; skipped, saying so, without Node.js). Each section is a file of Sections/.
//
//   dotnet run -c Release --project bench/Rrq.Bench [-- --quick] [-- --only SECTION]

string[] sections = ["roundtrip", "many", "bulk", "separate", "death", "scripts", "scale", "retention", "durable", "dashboard", "slurm"];
var quick = new Option<bool>("--quick") { Description = "Smaller counts and shorter warm-ups: a run of a few minutes, for a first look." };
var only = new Option<string?>("--only")
{
    Description = "Run one section (default: all of them, in this order; slurm runs when SLURM_CONF names a Slurm this machine can submit to).",
    HelpName = "SECTION",
};
only.AcceptOnlyFromAmong(sections);
var root = new RootCommand("Measures Rrq on this machine against a Redis PING and against BullMQ, both in the same run.") { quick, only };
root.SetAction((result, _) => RunAsync(result.GetValue(quick), result.GetValue(only)));
return await root.Parse(args).InvokeAsync();

static async Task<int> RunAsync(bool quick, string? only)
{
    bool Section(string name) => only is null || only == name;
    using var server = RedisProcess.StartUnlessConfigured();
    var address = server?.Address ?? Environment.GetEnvironmentVariable("RRQ_REDIS")!;
    Console.WriteLine($"Redis: {address}{(server is null ? " (RRQ_REDIS)" : " (private redis-server)")}");

    using var mux = await ConnectionMultiplexer.ConnectAsync(address + ",allowAdmin=true");
    var db = mux.GetDatabase();
    var ping = Median(await Repeat(quick ? 200 : 2000, async () => await db.PingAsync()));
    Console.WriteLine($"baseline: Redis PING round trip, median {Ms(ping)}");

    var queue = "rrq-bench:" + Guid.NewGuid().ToString("N")[..8];
    await using var obj = await RrqController.ConnectAsync(queue, address);
    var b = new Bench
    {
        Quick = quick, Server = server, Address = address, Mux = mux, Ping = ping, Queue = queue, Obj = obj,
        Peer = new BullMqPeer(mux.GetEndPoints()[0]),
    };

    if (Section("roundtrip") || Section("many") || Section("bulk"))
    {
        await InProcessSections.RunAsync(b, Section("roundtrip"), Section("many"), Section("bulk"));
    }
    if (Section("separate"))
    {
        await SeparateSection.RunAsync(b);
    }
    if (Section("death"))
    {
        await DeathSection.RunAsync(b);
    }
    if (Section("scripts"))
    {
        await ScriptsSection.RunAsync(b);
    }
    if (Section("scale"))
    {
        await ScaleSection.RunAsync(b);
    }
    if (Section("retention"))
    {
        await RetentionSection.RunAsync(b);
    }
    if (Section("durable"))
    {
        if (server is null)
        {
            Console.WriteLine("durable: skipped (it attaches a replica to the benchmark's own redis-server; RRQ_REDIS is set)");
        }
        else
        {
            await DurableSection.RunAsync(b, server);
        }
    }
    if (Section("dashboard"))
    {
        await DashboardSection.RunAsync(b);
    }
    if (Section("slurm"))
    {
        await SlurmSection.RunAsync(b);
    }

    await foreach (var key in mux.GetServer(mux.GetEndPoints()[0]).KeysAsync(pattern: "{" + queue + "}:*"))
    {
        await db.KeyDeleteAsync(key);
    }
    return 0;
}
