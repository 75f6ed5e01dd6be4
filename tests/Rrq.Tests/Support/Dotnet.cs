using System.Diagnostics;

namespace Rrq.Tests.Support;

/// <summary>Runs a <c>dotnet</c> command to its end against the test server, with its output collected.</summary>
public static class Dotnet
{
    public sealed record Result(int ExitCode, string Output, string Error);

    public static Task<Result> RunAsync(string workingDirectory, TimeSpan limit, params string[] args) =>
        RunAsync(workingDirectory, limit, new Dictionary<string, string?>(), args);

    /// <summary>As <see cref="RunAsync(string, TimeSpan, string[])"/>, with these environment variables set on top
    /// (a null value removes one: <c>["RRQ_REDIS"] = null</c> runs it with no Redis configured).</summary>
    public static async Task<Result> RunAsync(string workingDirectory, TimeSpan limit, IReadOnlyDictionary<string, string?> environment,
        params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        psi.Environment["RRQ_REDIS"] = RedisServer.Instance.Address;
        psi.Environment["DOTNET_INTERACTIVE_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        foreach (var (k, v) in environment)
        {
            psi.Environment[k] = v;
            if (v is null)
            {
                psi.Environment.Remove(k);
            }
        }
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        try
        {
            await p.WaitForExitAsync().WaitAsync(limit);
        }
        catch (TimeoutException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"dotnet {string.Join(' ', args)} did not finish in {limit}:\n{await stdout}\n{await stderr}");
        }
        return new Result(p.ExitCode, await stdout, await stderr);
    }

    /// <summary>Runs it and asserts it exited 0 (the message carries its output).</summary>
    public static Task<Result> RunOkAsync(string workingDirectory, TimeSpan limit, params string[] args) =>
        RunOkAsync(workingDirectory, limit, new Dictionary<string, string?>(), args);

    /// <summary>Runs it with these environment variables and asserts it exited 0.</summary>
    public static async Task<Result> RunOkAsync(string workingDirectory, TimeSpan limit, IReadOnlyDictionary<string, string?> environment,
        params string[] args)
    {
        var r = await RunAsync(workingDirectory, limit, environment, args);
        Assert.True(r.ExitCode == 0, $"dotnet {string.Join(' ', args)} exited with {r.ExitCode}:\n{r.Output}\n{r.Error}");
        return r;
    }
}
