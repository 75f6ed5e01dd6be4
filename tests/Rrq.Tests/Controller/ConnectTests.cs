using System.Diagnostics;
using Rrq.Tests.Support;

namespace Rrq.Tests.Controller;

public class ConnectTests
{
    [Fact]
    public async Task An_unreachable_redis_fails_within_seconds_naming_the_address()
    {
        var port = Rrq.Embedded.LoopbackPort.Free();
        var sw = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<RrqConnectionException>(() => RrqController.ConnectAsync("rrq:x", $"127.0.0.1:{port}"));
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), $"took {sw.Elapsed}");
        Assert.Contains($"127.0.0.1:{port}", e.Message);
        Assert.Contains("Could not connect to Redis", e.Message);
        Assert.Equal($"127.0.0.1:{port}", e.Address);
    }

    [Theory]
    [InlineData(",password=wrong")]
    [InlineData("")]
    public async Task A_wrong_or_missing_password_is_reported_as_such_within_seconds(string credentials)
    {
        using var redis = new PrivateRedis();
        using (var admin = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(redis.Address + ",allowAdmin=true"))
        {
            await admin.GetServer(admin.GetEndPoints()[0]).ConfigSetAsync("requirepass", "right");
        }
        var sw = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<RrqConnectionException>(() => RrqController.ConnectAsync("rrq:x", redis.Address + credentials));
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(15), $"took {sw.Elapsed}");
        Assert.Contains($"Redis at {redis.Address} refused the credentials", e.Message);
        Assert.Contains("password", e.Message);
        Assert.DoesNotContain("abortConnect", e.Message, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("another service", e.Message);
        await using var ok = await RrqController.ConnectAsync("rrq:x", redis.Address + ",password=right");
    }

    [Fact]
    public async Task A_redis_user_without_permission_for_scripts_is_told_what_rrq_needs()
    {
        using var redis = new PrivateRedis();
        using (var admin = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(redis.Address + ",allowAdmin=true"))
        {
            await admin.GetServer(admin.GetEndPoints()[0]).ExecuteAsync("ACL", "SETUSER", "limited", "on", ">pw", "~*", "&*", "+@all", "-@scripting");
        }
        var e = await Assert.ThrowsAsync<RrqConnectionException>(() => RrqController.ConnectAsync("rrq:x", redis.Address + ",user=limited,password=pw"));
        Assert.StartsWith($"Cannot use queue 'rrq:x' at {redis.Address}: Redis refused Rrq's schema_check script (EVALSHA, or EVAL) on keys {{rrq:x}}:", e.Message);
        Assert.Contains("for the user Rrq connects as ('limited'): NOPERM", e.Message);
        Assert.Contains("`rrq-worker acl rrq:x` prints the ACL SETUSER line", e.Message);
        Assert.DoesNotContain("6.2", e.Message);
    }

    [Fact]
    public async Task A_queue_gets_the_schema_version_and_the_default_worker_config_on_first_use()
    {
        await using var q = await TestQueue.CreateAsync();
        var db = RedisServer.Instance.Connection.GetDatabase();
        Assert.Equal("rrq-dotnet/6", (string?)await db.StringGetAsync($"{{{q.QueueId}}}:version"));
        Assert.Equal(["localhost"], q.Controller.WorkerConfigList());
        Assert.Equal($"<rrq_controller: {q.QueueId}>", q.Controller.ToString());
    }

    [Fact]
    public async Task A_queue_written_by_another_schema_is_refused_with_what_to_do()
    {
        var id = "rrq-test:schema:" + Guid.NewGuid().ToString("N");
        var db = RedisServer.Instance.Connection.GetDatabase();
        await db.StringSetAsync($"{{{id}}}:version", "rrq-dotnet/99");
        var e = await Assert.ThrowsAsync<RrqException>(() => RrqController.ConnectAsync(id, RedisServer.Instance.Address));
        Assert.Contains("schema 'rrq-dotnet/99'", e.Message);
        Assert.Contains("rrq-dotnet/6", e.Message);

        await db.StringSetAsync($"{{{id}}}:version", "0.8.0");
        e = await Assert.ThrowsAsync<RrqException>(() => RrqController.ConnectAsync(id, RedisServer.Instance.Address));
        Assert.Contains("another program", e.Message);
        await db.KeyDeleteAsync($"{{{id}}}:version");
    }

    [Fact]
    public void The_connection_string_comes_from_the_argument_then_RRQ_REDIS_then_REDIS_URL_then_localhost()
    {
        var saved = (Environment.GetEnvironmentVariable("RRQ_REDIS"), Environment.GetEnvironmentVariable("REDIS_URL"));
        try
        {
            Environment.SetEnvironmentVariable("RRQ_REDIS", null);
            Environment.SetEnvironmentVariable("REDIS_URL", null);
            Assert.Equal(("localhost:6379", "default"), Resolve(null));
            Environment.SetEnvironmentVariable("REDIS_URL", "redis://user:p%40ss@host.example:6380/2");
            Assert.Equal(("host.example:6380,user=user,password=p@ss,defaultDatabase=2", "REDIS_URL"), Resolve(null));
            Environment.SetEnvironmentVariable("RRQ_REDIS", "rediss://:secret@h:7000");
            Assert.Equal(("h:7000,password=secret,ssl=true", "RRQ_REDIS"), Resolve(null));
            Assert.Equal(("other:1", "argument"), Resolve("other:1"));
        }
        finally
        {
            Environment.SetEnvironmentVariable("RRQ_REDIS", saved.Item1);
            Environment.SetEnvironmentVariable("REDIS_URL", saved.Item2);
        }

        static (string, string) Resolve(string? s)
        {
            var a = Rrq.Controller.RedisAddress.Resolve(s);
            return (a.Configuration, a.Source);
        }
    }

    [Fact]
    public async Task A_port_that_answers_but_is_not_redis_fails_within_seconds_saying_so_and_starts_no_embedded_server()
    {
        // A web server's reply to whatever it is sent, on a loopback port.
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var address = $"127.0.0.1:{((System.Net.IPEndPoint)listener.LocalEndpoint).Port}";
        using var stop = new CancellationTokenSource();
        var serving = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var client = await listener.AcceptTcpClientAsync(stop.Token);
                var stream = client.GetStream();
                await stream.WriteAsync("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"u8.ToArray(), stop.Token);
                await Task.Delay(50, stop.Token);   // the client reads the reply before the connection closes: nothing to wait on
            }
        });
        var saved = (Environment.GetEnvironmentVariable("RRQ_REDIS"), Environment.GetEnvironmentVariable("REDIS_URL"),
            Rrq.Controller.RedisAddress.DefaultAddress);
        try
        {
            var sw = Stopwatch.StartNew();
            var e = await Assert.ThrowsAsync<RrqConnectionException>(() => RrqController.ConnectAsync("rrq:x", address));
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), $"took {sw.Elapsed}");
            Assert.Contains($"Something accepts connections at {address} but did not answer as a Redis server does", e.Message);
            Assert.Equal(address, e.Address);

            // The same server where Redis is looked for by default: it is not mistaken for "no Redis".
            Environment.SetEnvironmentVariable("RRQ_REDIS", null);
            Environment.SetEnvironmentVariable("REDIS_URL", null);
            Rrq.Controller.RedisAddress.DefaultAddress = address;
            var d = await Assert.ThrowsAsync<RrqConnectionException>(() => RrqController.ConnectAsync("rrq:x"));
            Assert.Contains($"Something accepts connections at {address}", d.Message);
        }
        finally
        {
            Environment.SetEnvironmentVariable("RRQ_REDIS", saved.Item1);
            Environment.SetEnvironmentVariable("REDIS_URL", saved.Item2);
            Rrq.Controller.RedisAddress.DefaultAddress = saved.Item3;
            await stop.CancelAsync();
            listener.Stop();
            await Assert.ThrowsAnyAsync<Exception>(() => serving);
        }
    }

    [Fact]
    public void An_embedded_server_that_cannot_start_says_where_and_what_to_do()
    {
        // Its port is taken: Garnet cannot bind it.
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        var port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;
        var e = Assert.Throws<RrqConnectionException>(() => Rrq.Embedded.EmbeddedGarnet.StartOn(port));
        Assert.Equal($"127.0.0.1:{port}", e.Address);
        Assert.StartsWith($"Could not start the embedded Garnet server on 127.0.0.1:{port}: ", e.Message);
        Assert.Contains("set RRQ_REDIS", e.Message);
    }

    [Fact]
    public async Task With_no_redis_configured_and_none_answering_an_embedded_garnet_runs_the_task_life_cycle()
    {
        var saved = (Environment.GetEnvironmentVariable("RRQ_REDIS"), Environment.GetEnvironmentVariable("REDIS_URL"),
            Rrq.Controller.RedisAddress.DefaultAddress);
        var nothingThere = $"127.0.0.1:{Rrq.Embedded.LoopbackPort.Free()}";
        try
        {
            Environment.SetEnvironmentVariable("RRQ_REDIS", null);
            Environment.SetEnvironmentVariable("REDIS_URL", null);
            Rrq.Controller.RedisAddress.DefaultAddress = nothingThere;

            var refused = await Assert.ThrowsAsync<RrqConnectionException>(() => RrqController.ConnectAsync("rrq:none", embedded: false));
            Assert.Contains(nothingThere, refused.Message);

            await using var obj = await RrqController.ConnectAsync("rrq:embedded:" + Guid.NewGuid().ToString("N"));
            Assert.NotEqual(nothingThere, obj.RedisConfiguration);
            Assert.StartsWith("127.0.0.1:", obj.RedisConfiguration);
            using var admin = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(obj.RedisConfiguration + ",allowAdmin=true");
            var info = await admin.GetServer(admin.GetEndPoints()[0]).InfoRawAsync("server") ?? "";
            Assert.Contains("garnet", info.ToLowerInvariant());

            obj.WorkerEnvirSet(new RrqEnvir([TestQueue.Env("fault.csx")]));
            var ok = obj.TaskCreateExpr("fit_model(new[] { 0.0, 1.0 }, new[] { 1.0, 3.0 })");
            var bad = obj.TaskCreateExpr("fit_model(new[] { 0.0 }, null)");
            await using var w = await RrqWorker.CreateAsync(obj, new Rrq.Scripting.RoslynTaskEvaluator());
            var waiting = obj.TaskWaitAsync([ok], TimeSpan.FromSeconds(30));
            await w.StepAsync();
            await w.StepAsync();
            Assert.True(await waiting);
            Assert.Equal(2.0, Convert.ToDouble(((RrqValueSnapshot)obj.TaskResult(ok)!)["Slope"], System.Globalization.CultureInfo.InvariantCulture));
            var err = Assert.IsType<RrqTaskError>(obj.TaskResult(bad));
            Assert.Equal("fit_model(double[], double[]) at fault.csx:6", err.From);
            obj.TaskDelete([ok, bad]);
            Assert.Equal([RrqTaskStatus.Missing, RrqTaskStatus.Missing], obj.TaskStatus([ok, bad]));

            // Dependencies, bulk with shared locals, cancellation and failure cascades on Garnet's Lua too.
            var first = obj.TaskCreateExpr("1");
            var bulk = obj.TaskCreateBulkExpr("i + k", Enumerable.Range(0, 600).Select(i => new { i }), shared: new { k = 1 }, dependsOn: [first]);
            var doomed = obj.TaskCreateExpr("throw new Exception()");
            var after = obj.TaskCreateExpr("2", dependsOn: [doomed]);
            var cancelled = obj.TaskCreateExpr("3", dependsOn: [first]);
            Assert.True(obj.TaskCancel(cancelled));
            for (var i = 0; i < 603; i++)
            {
                await w.StepAsync();
            }
            Assert.Equal(Enumerable.Range(1, 600), obj.TaskResults(bulk).Cast<int>());
            Assert.Equal([RrqTaskStatus.Error, RrqTaskStatus.Impossible, RrqTaskStatus.Cancelled], obj.TaskStatus([doomed, after, cancelled]));
            Assert.Equal(RrqWorkerStepKind.Idle, (await w.StepAsync()).Kind);

            // Retries, by hand and automatic (with a delay), on Garnet's Lua too.
            var retried = obj.TaskRetry(doomed);
            Assert.Equal(RrqTaskStatus.Deferred, obj.TaskStatus(after));
            await w.StepAsync();
            Assert.Equal([RrqTaskStatus.Moved, RrqTaskStatus.Error], obj.TaskStatus([doomed, retried], follow: false));
            var auto = obj.TaskCreateExpr("throw new Exception()", retry: new RrqRetryPolicy { MaxAttempts = 3, Delay = TimeSpan.FromMilliseconds(200), Backoff = 2 });
            using (var cts = new CancellationTokenSource())
            {
                var loop = w.RunAsync(cts.Token);
                Assert.False(await obj.TaskWaitAsync(auto, TimeSpan.FromSeconds(30)));
                cts.Cancel();
                await loop;
            }
            Assert.Equal(2, obj.TaskInfo(auto).Moved.Down.Count);

            // A second controller in the same process shares the one embedded server.
            await using var again = await RrqController.ConnectAsync("rrq:embedded:" + Guid.NewGuid().ToString("N"));
            Assert.Equal(obj.RedisConfiguration, again.RedisConfiguration);
        }
        finally
        {
            Environment.SetEnvironmentVariable("RRQ_REDIS", saved.Item1);
            Environment.SetEnvironmentVariable("REDIS_URL", saved.Item2);
            Rrq.Controller.RedisAddress.DefaultAddress = saved.Item3;
        }
    }

    [Fact]
    public async Task A_negative_wait_timeout_is_refused_at_the_call()
    {
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() =>
            RrqController.ConnectAsync("rrq:x", RedisServer.Instance.Address, timeoutTaskWait: TimeSpan.FromSeconds(-1)));
    }
}
