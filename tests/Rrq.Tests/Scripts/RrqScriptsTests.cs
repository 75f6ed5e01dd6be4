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
}
