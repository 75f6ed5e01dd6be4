using Rrq.Scripting;

namespace Rrq.Tests.Host;

/// <summary>The .csx host behind <c>rrq-worker run FILE.csx</c>: #r, #load, top-level await, Args, and its errors.</summary>
public sealed class ScriptHostTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rrq-host-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private async Task<(int Code, string Error)> RunAsync(string script, params string[] args)
    {
        var path = Path.Combine(_dir, "main.csx");
        await File.WriteAllTextAsync(path, script);
        var error = new StringWriter();
        var code = await RrqScriptHost.RunFileAsync(path, args, error);
        return (code, error.ToString());
    }

    [Fact]
    public async Task References_to_the_hosts_own_assemblies_load_relative_files_await_and_args_all_work()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "lib"));
        await File.WriteAllTextAsync(Path.Combine(_dir, "lib", "part.csx"), "static string Twice(string s) => s + s;\n");
        var output = Path.Combine(_dir, "out.txt");
        var (code, error) = await RunAsync("""
            #r "../Rrq.WorkerRunner/bin/Release/net10.0/Rrq.Core.dll"
            #r "nowhere/StackExchange.Redis.dll"
            #load "lib/part.csx"
            using Rrq;
            await Task.Delay(1);
            File.WriteAllText(Args[0], Twice(Args[1]) + " " + typeof(RrqController).Assembly.Location);
            """, output, "ab");
        Assert.True(code == 0, error);
        var text = await File.ReadAllTextAsync(output);
        // The #r line's folder does not exist: the host answered it with the Rrq.Core it runs itself.
        Assert.Equal("abab " + typeof(RrqController).Assembly.Location, text);
    }

    [Fact]
    public async Task A_missing_assembly_is_named_with_its_line_and_where_it_was_looked_for()
    {
        var (code, error) = await RunAsync("""
            // needs a library that is not there
            #r "lib/Missing.Library.dll"
            Console.WriteLine("never");
            """);
        Assert.Equal(1, code);
        Assert.Contains("main.csx does not compile", error);
        Assert.Contains("main.csx(2,1): error CS0006", error);
        Assert.Contains("Missing.Library.dll", error);
        Assert.Contains("relative to the script's folder", error);
    }

    [Fact]
    public async Task A_missing_loaded_file_is_named_with_its_line()
    {
        var (code, error) = await RunAsync("""
            #load "helpers/absent.csx"
            Console.WriteLine("never");
            """);
        Assert.Equal(1, code);
        Assert.Contains("(1,7)", error);
        Assert.Contains("absent.csx", error);
    }

    [Fact]
    public async Task A_script_that_throws_reports_the_exception_and_its_line()
    {
        var (code, error) = await RunAsync("""
            var n = 1;
            throw new InvalidOperationException($"stopped at {n}");
            """);
        Assert.Equal(1, code);
        Assert.Contains("System.InvalidOperationException: stopped at 1", error);
        Assert.Contains("main.csx:line 2", error);
    }
}
