using Rrq.Tests.Support;
using StackExchange.Redis;

namespace Rrq.Tests.Security;

/// <summary>Each queue under its own Redis user: `rrq-worker acl` makes the user, and a controller and workers connected as
/// it run the queue fully and cannot read or change another queue.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public class AclTests
{
    [Fact]
    public void The_line_names_the_queues_keys_and_channels_and_never_the_password()
    {
        var line = RrqAcl.SetUserLine("rrq:a1", password: "a-password-of-the-queue");
        Assert.StartsWith("ACL SETUSER rrq-rrq_a1 reset on \"#", line);
        Assert.Contains("\"~{rrq:a1}:*\" \"&{rrq:a1}:*\" -@all +@connection +eval +evalsha", line);
        Assert.DoesNotContain("a-password-of-the-queue", line);
        Assert.Contains(">CHANGE-ME", RrqAcl.SetUserLine("rrq:a1"));
        Assert.Throws<ArgumentException>(() => RrqAcl.SetUserLine("rrq:a1", user: "two words"));
    }

    [Fact]
    public async Task A_queue_run_as_its_own_user_works_fully_and_cannot_reach_another_queue()
    {
        using var redis = new PrivateRedis();
        var queueA = "rrq-acl-a:" + Guid.NewGuid().ToString("N")[..8];
        var queueB = "rrq-acl-b:" + Guid.NewGuid().ToString("N")[..8];
        var dir = Directory.CreateTempSubdirectory("rrq-acl-");
        try
        {
            var passwordFile = Path.Combine(dir.FullName, "password");
            File.WriteAllText(passwordFile, "pass-of-queue-a-0123456789");
            var (code, output, err) = await RrqWorkerCli.RunAsync("acl", queueA, "--password-file", passwordFile, "--apply", "--redis", redis.Address);
            Assert.True(code == 0, err);
            Assert.Contains("Applied on " + redis.Address, output);
            (code, output, _) = await RrqWorkerCli.RunAsync("acl", queueA);
            Assert.Equal(0, code);
            Assert.StartsWith($"ACL SETUSER {RrqAcl.DefaultUser(queueA)} reset on \">CHANGE-ME\"", output);

            // Queue B exists, with a task, made by the default (admin) user.
            await using (var b = await RrqController.ConnectAsync(queueB, redis.Address))
            {
                await b.TaskCreateExprAsync("\"private to B\"");
            }

            var asA = $"{redis.Address},user={RrqAcl.DefaultUser(queueA)},password=pass-of-queue-a-0123456789";
            await using var obj = await RrqController.ConnectAsync(queueA, asA);
            obj.WorkerEnvirSet(new RrqEnvir([TestQueue.Env("fault.csx")]));
            await obj.WorkerConfigSaveAsync("hb", new RrqWorkerConfig { HeartbeatPeriod = TimeSpan.FromSeconds(1) });
            var spawned = await obj.WorkerSpawnAsync(1, "hb", timeout: TimeSpan.FromSeconds(60));
            try
            {
                // What a queue does, all of it as queue A's user.
                var first = await obj.TaskCreateExprAsync("6 * 7");
                var bulk = await obj.TaskCreateBulkExprAsync("i + k", [new { i = 1 }, new { i = 2 }], shared: new { k = 10 }, dependsOn: [first]);
                var retried = await obj.TaskCreateExprAsync("throw new Exception(\"once\")", retry: new RrqRetryPolicy { MaxAttempts = 2 });
                var separate = await obj.TaskCreateExprAsync("1 + 1", separateProcess: true);
                Assert.True(await obj.TaskWaitAsync([first, .. bulk, separate], TimeSpan.FromSeconds(60)));
                Assert.False(await obj.TaskWaitAsync(retried, TimeSpan.FromSeconds(60)));
                Assert.Equal([11, 12], obj.TaskResults(bulk).Cast<int>());
                Assert.Equal(RrqTaskStatus.Moved, obj.TaskStatus(retried, follow: false));
                var answer = obj.MessageSendAndWait("EVAL", "40 + 2", timeout: TimeSpan.FromSeconds(30));
                Assert.Equal(42, Assert.Single(answer.Values).Result);
                // A task of queue A that goes looking for queue B, as an attacker's would: it finds no credentials in
                // its environment, takes the worker's own from the file its command line names, and is refused by Redis.
                var probe = await obj.TaskCreateExprAsync("""
                    ((Func<string>)(() => {
                        var args = Environment.GetCommandLineArgs();
                        var conn = File.ReadAllText(args[Array.IndexOf(args, "--redis-file") + 1]).Trim();
                        try { using var b = RrqController.Connect(queue, conn); return "reached " + b.TaskList().Count; }
                        catch (RrqException e) { return (Environment.GetEnvironmentVariable("RRQ_REDIS") ?? "no RRQ_REDIS") + ": " + e.Message; }
                    }))()
                    """, new { queue = queueB });
                Assert.True(await obj.TaskWaitAsync(probe, TimeSpan.FromSeconds(60)));
                var seen = (string)obj.TaskResult(probe)!;
                Assert.StartsWith("no RRQ_REDIS: Cannot use queue", seen);
                Assert.Contains("Redis refused Rrq's schema_check script", seen);
                Assert.Contains("NOPERM", seen);
                obj.TaskDelete([first]);
                Assert.NotEmpty(obj.WorkerList());
                obj.WorkerStop(timeout: TimeSpan.FromSeconds(30));
            }
            finally
            {
                spawned.Kill();
            }

            // Queue B, as queue A's user: nothing can be read or changed, and the refusal names what was refused.
            var e = await Assert.ThrowsAsync<RrqConnectionException>(() => RrqController.ConnectAsync(queueB, asA));
            Assert.Contains($"Redis refused Rrq's schema_check script (EVALSHA, or EVAL) on keys {{{queueB}}}:", e.Message);
            Assert.Contains($"for the user Rrq connects as ('{RrqAcl.DefaultUser(queueA)}'): NOPERM", e.Message);
            using var mux = await ConnectionMultiplexer.ConnectAsync(asA);
            var db = mux.GetDatabase();
            var read = await Assert.ThrowsAsync<RedisServerException>(() => db.HashGetAllAsync($"{{{queueB}}}:task:expr"));
            Assert.StartsWith("NOPERM", read.Message);
            await Assert.ThrowsAsync<RedisServerException>(() => db.HashSetAsync($"{{{queueB}}}:task:status", "x", "CANCELLED"));
            await Assert.ThrowsAsync<RedisServerException>(() => db.ScriptEvaluateAsync("return redis.call('HGETALL', KEYS[1])", [$"{{{queueB}}}:task:expr"]));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
