using System.Diagnostics;

namespace Rrq.Tests.Support;

/// <summary>Starts the rrq-worker program by hand, as a scheduler or supervisor would, on the test server.</summary>
public static class WorkerProcess
{
    public static Process Start(string queueId, params string[] options) => StartOn(RedisServer.Instance.Address, queueId, options);

    /// <summary>Starts it on the Redis at <paramref name="redis"/>.</summary>
    public static Process StartOn(string redis, string queueId, params string[] options)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true };
        foreach (var a in new[] { RrqWorkerCli.Dll, queueId, "--redis", redis }
                     .Concat(options))
        {
            psi.ArgumentList.Add(a);
        }
        return Process.Start(psi)!;
    }
}
