using System.Reflection;
using Rrq.Scripts;
using Rrq.Tests.Support;

namespace Rrq.Tests.Scripts;

[Trait(RedisServer.OnGarnet, "yes")]
public class RrqScriptsTests
{
    public static TheoryData<string> Names()
    {
        var data = new TheoryData<string>();
        foreach (var f in typeof(RrqScripts).GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.IsLiteral))
        {
            data.Add((string)f.GetRawConstantValue()!);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Names))]
    public async Task Every_script_has_its_header_expands_its_includes_and_loads_on_redis(string name)
    {
        var text = RrqScripts.Text(name);
        Assert.StartsWith($"-- {name}:", text);
        Assert.Contains("-- KEYS[", text);
        Assert.DoesNotContain("--#include", text);
        var server = RedisServer.Instance.Connection.GetServer(RedisServer.Instance.Address);
        var sha = await server.ScriptLoadAsync(text);   // compiles the Lua: a syntax error fails here
        Assert.Equal(20, sha.Length);   // the SHA-1 of the script, as raw bytes
        Assert.Equal(sha, RrqScripts.Hash(name));   // the name EVALSHA runs it by
    }

    [Fact]
    public void The_block_of_keys_include_finished_reads_last_is_the_block_every_wrapper_passes()
    {
        // include/finished.lua finds its keys by counting back from the end of KEYS: the count there must be the length of
        // RrqKeys.FinishedBlock, which every wrapper of a script that includes it passes last.
        var counts = typeof(RrqScripts).GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.IsLiteral)
            .Select(f => RrqScripts.Text((string)f.GetRawConstantValue()!))
            .Select(t => System.Text.RegularExpressions.Regex.Match(t, @"local N_KEYS = #KEYS - (\d+)"))
            .Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.True(counts.Count >= 5, $"{counts.Count} scripts include finished.lua");
        Assert.All(counts, c => Assert.Equal(new Rrq.Keys.RrqKeys("q", false).FinishedBlock.Length, c));
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Every_script_header_names_its_fixed_keys_which_every_call_in_the_tests_is_checked_against(string name)
    {
        // Support/ScriptHeaders checks each call the tests make against these names (a call that breaks them throws).
        var keys = ScriptHeaders.NamedKeys(name);
        if (RrqScripts.Text(name).Contains("-- KEYS[1..]", StringComparison.Ordinal))
        {
            Assert.Empty(keys);   // a list of keys of one kind, nothing at a fixed place
            return;
        }
        Assert.Contains(1, keys.Keys);
        Assert.All(keys.Values, k => Assert.Matches(@"^[a-z_]+(:\S+)?$", k));
    }

    [Fact]
    public void A_call_whose_keys_are_out_of_the_order_its_header_gives_is_stopped_before_it_is_sent()
    {
        var keys = new Rrq.Keys.RrqKeys("q");
        // worker_beat.lua: KEYS[1] worker:id  KEYS[2] worker:<id>:heartbeat  KEYS[3] version  KEYS[4] destroyed
        StackExchange.Redis.RedisKey[] right = [keys.WorkerId, keys.WorkerHeartbeat("w"), keys.Version, keys.Destroyed];
        QueueContext.ScriptCalling!(RrqScripts.WorkerBeat, right, ["w", 3000]);
        var swapped = Assert.Throws<InvalidOperationException>(() =>
            QueueContext.ScriptCalling!(RrqScripts.WorkerBeat, [keys.WorkerId, keys.Version, keys.WorkerHeartbeat("w"), keys.Destroyed], ["w", 3000]));
        Assert.Contains("KEYS[2]", swapped.Message, StringComparison.Ordinal);
        var few = Assert.Throws<InvalidOperationException>(() => QueueContext.ScriptCalling!(RrqScripts.WorkerBeat, right, ["w"]));
        Assert.Contains("1 ARGV passed, the header numbers 2", few.Message, StringComparison.Ordinal);
        // walk_continue.lua includes finished.lua, which reads RrqKeys.FinishedBlock from the end of KEYS.
        StackExchange.Redis.RedisKey[] walk = [keys.TaskDependsDown, keys.TaskStatus, keys.TaskTimeComplete, keys.TaskQueue, keys.Queue("default")];
        StackExchange.Redis.RedisValue[] args = [100, "channel", "prefix", "default"];
        QueueContext.ScriptCalling!(RrqScripts.WalkContinue, [.. walk, .. keys.FinishedBlock], args);
        var blockless = Assert.Throws<InvalidOperationException>(() => QueueContext.ScriptCalling!(RrqScripts.WalkContinue, walk, args));
        Assert.Contains("RrqKeys.FinishedBlock", blockless.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void A_scripts_notices_go_out_with_PUBLISH_on_a_server_and_SPUBLISH_on_a_sharded_cluster(string name)
    {
        var plain = RrqScripts.Text(name);
        var sharded = RrqScripts.Text(name, sharded: true);
        Assert.DoesNotContain("'SPUBLISH'", plain, StringComparison.Ordinal);
        Assert.DoesNotContain("'PUBLISH'", sharded, StringComparison.Ordinal);
        Assert.Equal(plain.Contains("publish(", StringComparison.Ordinal), plain.Contains("redis.call('PUBLISH'", StringComparison.Ordinal));
        Assert.Equal(plain.Contains("redis.call('PUBLISH'", StringComparison.Ordinal), sharded.Contains("redis.call('SPUBLISH'", StringComparison.Ordinal));
        if (plain != sharded)
        {
            Assert.NotEqual(RrqScripts.Hash(name), RrqScripts.Hash(name, sharded: true));   // EVALSHA runs the right one
        }
    }
}
