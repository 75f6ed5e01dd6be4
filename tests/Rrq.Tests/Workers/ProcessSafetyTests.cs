using System.Diagnostics;
using System.Text.Json;
using Rrq.Tests.Support;

namespace Rrq.Tests.Workers;

/// <summary>Killing, spawning and restarting worker processes without harming anything else.</summary>
public class ProcessSafetyTests
{
    private static Process Sleeper() => Process.Start("sleep", ["60"])!;

    private static async Task SetInfo(TestQueue q, string workerId, Func<RrqWorkerInfo, RrqWorkerInfo> change)
    {
        var info = q.Controller.WorkerInfo([workerId])[workerId];
        await RedisServer.Instance.Connection.GetDatabase().HashSetAsync($"{{{q.QueueId}}}:worker:info", workerId,
            JsonSerializer.Serialize(change(info)));
    }

    [Fact]
    public async Task Kill_leaves_alone_a_pid_that_now_belongs_to_another_process()
    {
        await using var q = await TestQueue.CreateAsync();
        var w = await q.SpawnAsync(1);
        // As if the worker's pid had been given to a process started long after it.
        await SetInfo(q, w.Id, i => i with { ProcessStarted = i.ProcessStarted!.Value.AddHours(-1) });
        q.Controller.WorkerStop([w.Id], RrqWorkerStopType.Kill);
        Assert.True(w.IsAlive(w.Id));
        Assert.Equal(RrqWorkerStatus.Exited, q.Controller.WorkerStatus(w.Id));
    }

    [Fact]
    public async Task Kill_never_kills_the_pid_of_a_worker_that_has_already_left()
    {
        await using var q = await TestQueue.CreateAsync();
        var w = await q.SpawnAsync(1);
        q.Controller.WorkerStop([w.Id], timeout: TimeSpan.FromSeconds(30));
        Assert.Equal(RrqWorkerStatus.Exited, q.Controller.WorkerStatus(w.Id));
        using var other = Sleeper();
        await SetInfo(q, w.Id, i => i with { Pid = other.Id, ProcessStarted = null });
        q.Controller.WorkerStop([w.Id], RrqWorkerStopType.Kill);
        Assert.False(other.HasExited);
        other.Kill();
    }

    [Fact]
    public async Task A_worker_program_started_on_a_destroyed_queue_exits_and_brings_no_key_back()
    {
        await using var q = await TestQueue.CreateAsync();
        var id = q.QueueId;
        q.Controller.Destroy();
        using var p = WorkerProcess.Start(id, "--name", "late");
        var stderr = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(60_000));
        Assert.Equal(1, p.ExitCode);
        // Only the mark that says the queue was destroyed on purpose (it expires after a day).
        var server = RedisServer.Instance.Connection.GetServer(RedisServer.Instance.Address);
        Assert.Equal([$"{{{id}}}:destroyed"], server.Keys(pattern: "{" + id + "}:*").Select(k => (string)k!));
    }

    [Fact]
    public async Task A_worker_registering_as_its_queue_is_destroyed_writes_nothing()
    {
        await using var q = await TestQueue.CreateAsync();
        var db = RedisServer.Instance.Connection.GetDatabase();
        await db.KeyDeleteAsync($"{{{q.QueueId}}}:version");   // the deletion has reached the schema key
        var e = await Assert.ThrowsAsync<RrqException>(() => q.WorkerAsync("late"));
        Assert.Contains("does not exist", e.Message, StringComparison.Ordinal);
        Assert.False(await db.KeyExistsAsync($"{{{q.QueueId}}}:worker:late:log"));
        Assert.False(await db.HashExistsAsync($"{{{q.QueueId}}}:worker:status", "late"));
    }

    [Fact]
    public async Task A_spawn_that_fails_part_way_leaves_no_worker_behind_and_says_which_did_not_start()
    {
        await using var q = await TestQueue.CreateAsync();
        var e = await Assert.ThrowsAsync<RrqException>(() => q.Controller.WorkerSpawnAsync(2, timeout: TimeSpan.FromMilliseconds(1)));
        Assert.Contains("Workers that did start were stopped", e.Message, StringComparison.Ordinal);
        Assert.Contains("not started:", e.Message, StringComparison.Ordinal);
        await Task.Delay(3000);   // long enough for a worker left running to have registered
        Assert.Empty(q.Controller.WorkerList());
        Assert.DoesNotContain(Directory.GetDirectories("/proc"), d =>
        {
            try
            {
                return File.ReadAllText(Path.Combine(d, "cmdline")).Contains(q.QueueId, StringComparison.Ordinal);
            }
            catch (IOException)
            {
                return false;
            }
            catch (UnauthorizedAccessException)
            {
                return false;
            }
        });
    }

    [Fact]
    public async Task A_spawned_worker_that_crashes_is_replaced_under_a_new_id_and_one_killed_on_purpose_is_not()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var w = await q.SpawnAsync(2);
        var (crashing, killed) = (w.Ids[0], w.Ids[1]);
        using (var p = Process.GetProcessById(w.Pids[crashing]))
        {
            p.Kill();   // from outside, as the OOM killer would
        }
        w.Kill(killed);
        await Poll.Until(async () => (await obj.WorkerListAsync()).Contains(crashing + "r1"), 60);
        Assert.Equal(1, w.Restarts);
        Assert.Equal([crashing + "r1", killed], w.Ids);
        Assert.True(w.IsAlive(crashing + "r1"));
        Assert.False(w.IsAlive(killed));
        var t = obj.TaskCreateExpr("6 * 7");
        Assert.True(obj.TaskWait(t, TimeSpan.FromSeconds(60)));
    }
}
