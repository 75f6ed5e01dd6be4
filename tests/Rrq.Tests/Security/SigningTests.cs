using MemoryPack;
using Rrq.Tests.Support;
using StackExchange.Redis;

namespace Rrq.Tests.Security;

/// <summary>Signed tasks: a worker with keys runs only what a controller holding one of them signed for its queue.
/// The attacker here is anyone who can write to Redis: they write payloads straight into the queue's keys.</summary>
[Trait(RedisServer.OnGarnet, "yes")]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]   // key files are checked by their Unix mode
public class SigningTests
{
    private static readonly RrqSigningKeys Old = RrqSigningKeys.FromKeys("old-key-0123456789abcdef");
    private static readonly RrqSigningKeys New = RrqSigningKeys.FromKeys("new-key-fedcba9876543210");

    private static IDatabase Db => RedisServer.Instance.Connection.GetDatabase();

    private static string Marker() => Path.Combine(Path.GetTempPath(), "rrq-pwned-" + Guid.NewGuid().ToString("N"));

    /// <summary>What an attacker's task would run: it leaves a file behind if it runs at all.</summary>
    private static byte[] AttackPayload(string marker) => MemoryPackSerializer.Serialize(new Rrq.Tasks.TaskPayload
    {
        Expression = $"System.IO.File.WriteAllText(@\"{marker}\", \"pwned\")",
    });

    private static async Task<RrqController> ConnectAsync(string queueId, RrqSigningKeys? keys)
    {
        var c = await RrqController.ConnectAsync(queueId, RedisServer.Instance.Address);
        c.SigningKeys = keys;
        return c;
    }

    [Fact]
    public async Task A_payload_written_into_Redis_without_the_key_is_refused_before_it_is_compiled()
    {
        await using var q = await TestQueue.CreateAsync();
        q.Controller.SigningKeys = Old;
        var w = await q.WorkerAsync();
        var good = await q.Controller.TaskCreateExprAsync("x * 2", new { x = 21 });
        Assert.Equal(RrqTaskStatus.Complete, (await w.StepAsync()).Status);
        Assert.Equal(42, q.Controller.TaskResult(good));

        // A task submitted, then its payload overwritten by someone without the key.
        var marker = Marker();
        var t = await q.Controller.TaskCreateExprAsync("1");
        await Db.HashSetAsync($"{{{q.QueueId}}}:task:expr", t, AttackPayload(marker));
        // And one submitted through a controller that has no key (what any Redis writer can do).
        await using var keyless = await ConnectAsync(q.QueueId, null);
        var unsigned = await keyless.TaskCreateExprAsync($"System.IO.File.WriteAllText(@\"{marker}\", \"pwned\")");

        foreach (var id in new[] { t, unsigned })
        {
            var step = await w.StepAsync();
            Assert.Equal(id, step.TaskId);
            Assert.Equal(RrqTaskStatus.Error, step.Status);
            var e = Assert.IsType<RrqTaskError>(q.Controller.TaskResult(id));
            Assert.Contains($"is not signed by queue '{q.QueueId}''s key", e.Message);
            Assert.Contains("carries no signature", e.Message);
            Assert.Equal(typeof(RrqSignatureException).FullName, e.ExceptionType);
        }
        Assert.False(File.Exists(marker), "the attacker's code ran");
    }

    [Fact]
    public async Task A_tampered_payload_and_a_payload_replayed_into_another_queue_are_refused()
    {
        await using var a = await TestQueue.CreateAsync();
        await using var b = await TestQueue.CreateAsync();
        a.Controller.SigningKeys = Old;
        b.Controller.SigningKeys = Old;   // the same key on both queues: only the queue binding tells them apart
        var wa = await a.WorkerAsync();
        var wb = await b.WorkerAsync();
        var marker = Marker();

        // Tampered: the signature line kept, the body after it changed.
        var t = await a.Controller.TaskCreateExprAsync("1");
        var exprKey = $"{{{a.QueueId}}}:task:expr";
        var signed = (byte[])(await Db.HashGetAsync(exprKey, t))!;
        var head = signed[..(Array.IndexOf(signed, (byte)'\n') + 1)];
        await Db.HashSetAsync(exprKey, t, (byte[])[.. head, .. AttackPayload(marker)]);
        Assert.Equal(RrqTaskStatus.Error, (await wa.StepAsync()).Status);
        Assert.Contains("the signature does not match its content", Assert.IsType<RrqTaskError>(a.Controller.TaskResult(t)).Message);

        // Replayed: queue A's signed payload (it would write the marker) copied over a task of queue B.
        var aTask = await a.Controller.TaskCreateExprAsync($"System.IO.File.WriteAllText(@\"{marker}\", \"pwned\")");
        var aBytes = (byte[])(await Db.HashGetAsync(exprKey, aTask))!;
        var bTask = await b.Controller.TaskCreateExprAsync("2");
        await Db.HashSetAsync($"{{{b.QueueId}}}:task:expr", bTask, aBytes);
        Assert.Equal(RrqTaskStatus.Error, (await wb.StepAsync()).Status);
        var e = Assert.IsType<RrqTaskError>(b.Controller.TaskResult(bTask));
        Assert.Contains($"is not signed by queue '{b.QueueId}''s key", e.Message);
        Assert.Contains("signed for another queue", e.Message);
        Assert.False(File.Exists(marker));
        a.Controller.TaskDelete([aTask]);
    }

    [Fact]
    public async Task Keys_rotate_workers_first_then_controllers_and_an_unknown_key_is_named()
    {
        await using var q = await TestQueue.CreateAsync();
        q.Controller.SigningKeys = RrqSigningKeys.FromKeys("new-key-fedcba9876543210", "old-key-0123456789abcdef");
        var w = await q.WorkerAsync();
        await using var oldController = await ConnectAsync(q.QueueId, Old);
        await using var newController = await ConnectAsync(q.QueueId, New);

        // Workers hold both keys: tasks signed with either run.
        var t1 = await oldController.TaskCreateExprAsync("1");
        var t2 = await newController.TaskCreateExprAsync("2");
        Assert.Equal(RrqTaskStatus.Complete, (await w.StepAsync()).Status);
        Assert.Equal(RrqTaskStatus.Complete, (await w.StepAsync()).Status);
        Assert.Equal([1, 2], newController.TaskResults([t1, t2]).Cast<int>());

        // The old key dropped from the workers: a task still signed with it is refused, naming the key.
        q.Controller.SigningKeys = New;
        var t3 = await oldController.TaskCreateExprAsync("3");
        Assert.Equal(RrqTaskStatus.Error, (await w.StepAsync()).Status);
        var message = Assert.IsType<RrqTaskError>(q.Controller.TaskResult(t3)).Message;
        Assert.Contains($"signed with key {Old.SigningKeyId}", message);
        Assert.Contains(New.SigningKeyId, message);
    }

    [Fact]
    public async Task Shared_locals_environments_and_messages_are_signed_and_checked_too()
    {
        await using var q = await TestQueue.CreateAsync();
        q.Controller.SigningKeys = Old;
        var w = await q.WorkerAsync();
        await using var keyless = await ConnectAsync(q.QueueId, null);

        // Shared locals of a bulk submission: signed with it, and refused once replaced by someone without the key.
        var ok = await q.Controller.TaskCreateBulkExprAsync("i + k", [new { i = 1 }], shared: new { k = 10 });
        Assert.Equal(RrqTaskStatus.Complete, (await w.StepAsync()).Status);
        Assert.Equal(11, q.Controller.TaskResult(ok[0]));
        var sharedKey = $"{{{q.QueueId}}}:shared";
        var before = (await Db.HashKeysAsync(sharedKey)).ToHashSet();
        var ids = await q.Controller.TaskCreateBulkExprAsync("i + k", [new { i = 1 }, new { i = 2 }], shared: new { k = 20 });
        var field = (await Db.HashKeysAsync(sharedKey)).Single(f => !before.Contains(f));
        await Db.HashSetAsync(sharedKey, field, MemoryPackSerializer.Serialize(new Rrq.Tasks.TaskPayload { LocalNames = ["k"], LocalValues = [Rrq.Store.RrqValueCodec.Serialize(99)] }));
        Assert.Equal(RrqTaskStatus.Error, (await w.StepAsync()).Status);
        Assert.Equal(RrqTaskStatus.Error, (await w.StepAsync()).Status);
        Assert.All(ids, id => Assert.Contains("The shared locals", Assert.IsType<RrqTaskError>(q.Controller.TaskResult(id)).Message));

        // An environment set without the key is not loaded; a signed one is.
        keyless.WorkerEnvirSet(new RrqEnvir([TestQueue.Env("fault.csx")]));
        var t = await q.Controller.TaskCreateExprAsync("stochastic_failure(0.5, \"x\", 0)");
        Assert.Equal(RrqTaskStatus.Error, (await w.StepAsync()).Status);   // the function is not there
        Assert.Contains(q.Controller.WorkerLogTail(w.Id, 0), l => l.Command == "ENVIR" && l.Message.Contains("not signed by queue"));
        q.Controller.WorkerEnvirSet(new RrqEnvir([TestQueue.Env("fault.csx")]));
        var t2 = await q.Controller.TaskCreateExprAsync("1 + 1");
        Assert.Equal(RrqTaskStatus.Complete, (await w.StepAsync()).Status);
        Assert.Contains(q.Controller.WorkerLogTail(w.Id, 0), l => l.Command == "ENVIR" && l.Message.StartsWith("version 2", StringComparison.Ordinal));

        // EVAL from a controller without the key is answered with a refusal, and not run.
        var marker = Marker();
        var bad = keyless.MessageSend("EVAL", $"System.IO.File.WriteAllText(@\"{marker}\", \"pwned\")");
        await w.StepAsync();
        var answer = keyless.MessageGetResponse(bad, [w.Id], timeout: TimeSpan.FromSeconds(10))[w.Id];
        Assert.False(answer.Success);
        Assert.Contains("not signed by queue", answer.Error);
        Assert.False(File.Exists(marker));
        var good = q.Controller.MessageSend("EVAL", "6 * 7");
        await w.StepAsync();
        Assert.Equal(42, q.Controller.MessageGetResponse(good, [w.Id], timeout: TimeSpan.FromSeconds(10))[w.Id].Result);
    }

    [Fact]
    public void A_key_file_others_can_read_is_refused_and_keys_never_show_in_text()
    {
        var dir = Directory.CreateTempSubdirectory("rrq-keys-test");
        try
        {
            var path = Path.Combine(dir.FullName, "keys");
            File.WriteAllLines(path, ["# rotated 2026-12", "new-key-fedcba9876543210", "", "old-key-0123456789abcdef"]);
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            var e = Assert.Throws<RrqException>(() => RrqSigningKeys.FromFile(path));
            Assert.Contains("can be read or written by other users (mode 644)", e.Message);
            Assert.Contains($"chmod 600 {path}", e.Message);

            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            var keys = RrqSigningKeys.FromFile(path);
            Assert.Equal(2, keys.Count);
            Assert.Equal(New.SigningKeyId, keys.SigningKeyId);
            Assert.DoesNotContain("key-", keys.ToString());

            File.WriteAllText(path, "short\n");
            Assert.Contains("shorter than 16 characters", Assert.Throws<RrqException>(() => RrqSigningKeys.FromFile(path)).Message);
            Assert.Contains("does not exist", Assert.Throws<RrqException>(() => RrqSigningKeys.FromFile(path + ".missing")).Message);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Spawned_workers_get_the_controllers_keys_and_refuse_what_it_did_not_sign()
    {
        await using var q = await TestQueue.CreateAsync();
        q.Controller.SigningKeys = Old;   // given in code: the workers get them in a file only this user can read
        await q.SpawnAsync(1);
        var good = await q.Controller.TaskCreateExprAsync("40 + 2");
        Assert.True(await q.Controller.TaskWaitAsync(good, TimeSpan.FromSeconds(60)));
        Assert.Equal(42, q.Controller.TaskResult(good));

        await using var keyless = await ConnectAsync(q.QueueId, null);
        var marker = Marker();
        var bad = await keyless.TaskCreateExprAsync($"System.IO.File.WriteAllText(@\"{marker}\", \"pwned\")");
        Assert.False(await q.Controller.TaskWaitAsync(bad, TimeSpan.FromSeconds(60)));
        Assert.Contains("is not signed by queue", Assert.IsType<RrqTaskError>(q.Controller.TaskResult(bad)).Message);
        Assert.False(File.Exists(marker));
        var file = Old.FileForWorkers();
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
    }
}
