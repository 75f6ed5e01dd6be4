using System.Diagnostics;
using System.Text.Json;
using Rrq.Tests.Support;

namespace Rrq.Tests.Operate;

/// <summary><c>rrq-worker info</c>, run as an operator runs it, against a queue with a spawned worker at work.</summary>
public class InfoCommandTests
{
    [Fact]
    public async Task Rrq_worker_info_shows_counts_workers_and_failures_as_text_and_as_json_and_watches()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var spawned = await q.SpawnAsync();
        var done = obj.TaskCreateExpr("6 * 7");
        var bad = obj.TaskCreateExpr("int.Parse(\"forty-two\")");
        obj.TaskWait([done, bad], TimeSpan.FromSeconds(60));
        var slow = obj.TaskCreateExpr("System.Threading.Thread.Sleep(60_000)");
        await Poll.Until(() => obj.TaskStatus(slow) == RrqTaskStatus.Running);
        var queued = obj.TaskCreateExpr("1");

        var (code, text, err) = await RrqWorkerCli.RunAsync("info", q.QueueId, "--redis", RedisServer.Instance.Address);
        Assert.True(code == 0, err);
        Assert.Contains(q.QueueId, text);
        Assert.Contains("PENDING 1  DEFERRED 0  RUNNING 1  COMPLETE 1  FAILED 1 (ERROR 1)", text);
        var workerLine = text.Split('\n').Single(l => l.Contains(spawned.Id, StringComparison.Ordinal));
        Assert.Contains("BUSY", workerLine);
        Assert.Contains(slow[..8], workerLine);
        Assert.Contains("1/1", workerLine);
        Assert.Matches(@"\d+\.\d s ago", workerLine);
        var failureLine = text.Split('\n').Single(l => l.Contains(bad, StringComparison.Ordinal));
        Assert.Contains("ERROR", failureLine);
        Assert.Contains("int.Parse(\"forty-two\")", failureLine);
        Assert.Contains("'forty-two'", failureLine);

        (code, var json, err) = await RrqWorkerCli.RunAsync("info", q.QueueId, "--redis", RedisServer.Instance.Address, "--json", "--minutes", "5");
        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        Assert.Equal(q.QueueId, root.GetProperty("queueId").GetString());
        var counts = root.GetProperty("counts");
        Assert.Equal((1, 1, 1, 1, 0), (counts.GetProperty("PENDING").GetInt64(), counts.GetProperty("RUNNING").GetInt64(),
            counts.GetProperty("COMPLETE").GetInt64(), counts.GetProperty("FAILED").GetInt64(), counts.GetProperty("DEFERRED").GetInt64()));
        Assert.Equal(1, counts.GetProperty("failedByStatus").GetProperty("ERROR").GetInt64());
        var worker = root.GetProperty("workers").EnumerateArray().Single();
        Assert.Equal(spawned.Id, worker.GetProperty("id").GetString());
        Assert.Equal("BUSY", worker.GetProperty("status").GetString());
        Assert.Equal([slow], worker.GetProperty("tasks").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal(spawned.Pids[spawned.Id], worker.GetProperty("pid").GetInt32());
        Assert.InRange(worker.GetProperty("lastHeartbeatSeconds").GetDouble(), 0, 30);
        var failure = root.GetProperty("recentFailures").EnumerateArray().Single();
        Assert.Equal((bad, "ERROR"), (failure.GetProperty("id").GetString(), failure.GetProperty("status").GetString()));
        Assert.Equal(5, root.GetProperty("throughput").GetArrayLength());
        Assert.Equal(2, root.GetProperty("throughput").EnumerateArray().Sum(p => p.GetProperty("complete").GetInt64() + p.GetProperty("failed").GetInt64()));

        // --watch on a pipe: one JSON object per line, again and again, until stopped.
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])[RrqWorkerCli.Dll, "info", q.QueueId, "--redis", RedisServer.Instance.Address, "--json", "--watch", "--interval", "0.2"])
        {
            psi.ArgumentList.Add(a);
        }
        using var watch = Process.Start(psi)!;
        try
        {
            var first = await watch.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
            obj.TaskCancel(queued);
            var later = first;
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (DateTime.UtcNow < deadline && JsonDocument.Parse(later!).RootElement.GetProperty("counts").GetProperty("PENDING").GetInt64() != 0)
            {
                later = await watch.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
            }
            Assert.Equal(1, JsonDocument.Parse(first!).RootElement.GetProperty("counts").GetProperty("PENDING").GetInt64());
            Assert.Equal(0, JsonDocument.Parse(later!).RootElement.GetProperty("counts").GetProperty("PENDING").GetInt64());
        }
        finally
        {
            watch.Kill();
            await watch.WaitForExitAsync();
        }
    }

    [Fact]
    public async Task Rrq_worker_info_refuses_bad_options_and_names_a_redis_it_cannot_reach()
    {
        var (code, _, err) = await RrqWorkerCli.RunAsync("info", "rrq:x", "--failures", "500");
        Assert.Equal(2, code);
        Assert.Contains("--failures 0 to 100", err);
        var nowhere = $"127.0.0.1:{Rrq.Embedded.LoopbackPort.Free()}";
        var sw = Stopwatch.StartNew();
        (code, _, err) = await RrqWorkerCli.RunAsync("info", "rrq:x", "--redis", nowhere);
        Assert.Equal(1, code);
        Assert.Contains(nowhere, err);
        Assert.InRange(sw.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(15));

        // A mistyped queue id is said to be one, and creates nothing.
        var typo = "rrq-typo:" + Guid.NewGuid().ToString("N")[..8];
        (code, _, err) = await RrqWorkerCli.RunAsync("info", typo, "--redis", RedisServer.Instance.Address);
        Assert.Equal(1, code);
        Assert.Contains($"Queue '{typo}' does not exist at", err);
        var server = RedisServer.Instance.Connection.GetServer(RedisServer.Instance.Address);
        Assert.Empty(server.Keys(pattern: "{" + typo + "}:*"));
    }
}
