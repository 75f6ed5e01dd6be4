using System.Diagnostics;

namespace Rrq.Workers;

/// <summary>
/// Finds and starts the <c>rrq-worker</c> program: <c>RRQ_WORKER</c> (a path to the program or its
/// .dll), else beside the running app or beside Rrq.Core, else on the PATH.
/// </summary>
internal static class WorkerLauncher
{
    public static (string FileName, string[] Prefix) Locate()
    {
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable("RRQ_WORKER") is { Length: > 0 } configured)
        {
            if (!File.Exists(configured))
            {
                throw new RrqException($"RRQ_WORKER is set to '{configured}', which does not exist. Point it at the rrq-worker program or rrq-worker.dll.");
            }
            candidates.Add(configured);
        }
        foreach (var dir in new[] { AppContext.BaseDirectory, Path.GetDirectoryName(typeof(WorkerLauncher).Assembly.Location) })
        {
            if (!string.IsNullOrEmpty(dir))
            {
                candidates.Add(Path.Combine(dir, "rrq-worker.dll"));
            }
        }
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            candidates.Add(Path.Combine(dir, OperatingSystem.IsWindows() ? "rrq-worker.exe" : "rrq-worker"));
        }
        foreach (var c in candidates)
        {
            if (!File.Exists(c))
            {
                continue;
            }
            return c.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) ? (DotnetHost(), [c]) : (c, []);
        }
        throw new RrqException(
            "Cannot find the rrq-worker program to spawn workers: it is not beside this app, beside Rrq.Core, or on the PATH. " +
            "Reference the Rrq.WorkerRunner project/package, or set RRQ_WORKER to the path of rrq-worker.dll.");
    }

    private static string DotnetHost()
    {
        var self = Environment.ProcessPath;
        if (self is not null && Path.GetFileNameWithoutExtension(self).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
        {
            return self;
        }
        var root = Environment.GetEnvironmentVariable("DOTNET_ROOT");
        if (root is not null && File.Exists(Path.Combine(root, "dotnet")))
        {
            return Path.Combine(root, "dotnet");
        }
        return "dotnet";
    }

    /// <summary>
    /// Starts one worker with its output appended to <paramref name="logFile"/>. Its standard input is
    /// a pipe held by this process: when this process exits the pipe closes and the worker stops
    /// after its current task, so spawned workers do not outlive the session that started them.
    /// </summary>
    public static Process Start(IEnumerable<string> args, string logFile, IReadOnlyDictionary<string, string> environment)
    {
        var (file, prefix) = Locate();
        ProcessStartInfo psi;
        if (OperatingSystem.IsWindows())
        {
            psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        }
        else
        {
            // The shell sends everything the process writes, runtime crash reports included, to the log.
            psi = new ProcessStartInfo("/bin/sh");
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add("exec \"$@\" >> \"$RRQ_WORKER_LOG\" 2>&1");
            psi.ArgumentList.Add("rrq-worker");
            psi.ArgumentList.Add(file);
            psi.Environment["RRQ_WORKER_LOG"] = logFile;
        }
        foreach (var a in prefix.Concat(args))
        {
            psi.ArgumentList.Add(a);
        }
        psi.UseShellExecute = false;
        psi.RedirectStandardInput = true;
        psi.WorkingDirectory = Environment.CurrentDirectory;
        foreach (var (k, v) in environment)
        {
            psi.Environment[k] = v;
        }
        var process = Process.Start(psi) ?? throw new RrqException($"Could not start {file}.");
        if (OperatingSystem.IsWindows())
        {
            var log = new StreamWriter(logFile, append: true) { AutoFlush = true };
            process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (log) { log.WriteLine(e.Data); } } };
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (log) { log.WriteLine(e.Data); } } };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }
        return process;
    }
}
