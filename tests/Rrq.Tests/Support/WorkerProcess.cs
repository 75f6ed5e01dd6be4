using System.Diagnostics;

namespace Rrq.Tests.Support;

/// <summary>Starts the rrq-worker program by hand, as a scheduler or supervisor would, on the test server.</summary>
public static class WorkerProcess
{
    public static Process Start(string queueId, params string[] options)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true };
        foreach (var a in new[] { RrqWorkerCli.Dll, queueId, "--redis", RedisServer.Instance.Address }
                     .Concat(options))
        {
            psi.ArgumentList.Add(a);
        }
        return Process.Start(psi)!;
    }
}
