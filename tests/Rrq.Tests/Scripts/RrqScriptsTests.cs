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
}
