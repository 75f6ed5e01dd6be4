using System.Diagnostics;

namespace Rrq.Tests.Support;

/// <summary>Runs the rrq-worker program as a user would, to its end.</summary>
public static class RrqWorkerCli
{
    /// <summary>The rrq-worker program the tests run and spawn: in rrq-worker/ beside them, where the Rrq.Scripting package
    /// puts it in an app's output (WorkerSpawn looks there).</summary>
    public static string Dll { get; } = Path.Combine(AppContext.BaseDirectory, "rrq-worker", "rrq-worker.dll");

    public static async Task<(int Code, string Out, string Err)> RunAsync(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        psi.ArgumentList.Add(RrqWorkerCli.Dll);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        var output = await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        return (p.ExitCode, output, await err);
    }
}
