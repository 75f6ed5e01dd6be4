using System.Diagnostics;

namespace Rrq.Workers;

/// <summary>
/// Finds and starts the <c>rrq-worker</c> program. Where it looks, first found wins: <c>RRQ_WORKER</c> (a
/// path to the program or its .dll); beside the running app, then in its <c>rrq-worker/</c> folder (where the
/// Rrq.Scripting package puts it); the same beside Rrq.Core and Rrq.Scripting; inside the Rrq.Scripting
/// package in the NuGet cache (a notebook's <c>#r "nuget: ..."</c>, which copies nothing); on the PATH (the
/// <c>rrq-worker</c> .NET tool).
/// </summary>
internal static class WorkerLauncher
{
    public static (string FileName, string[] Prefix) Locate()
    {
        if (Environment.GetEnvironmentVariable("RRQ_WORKER") is { Length: > 0 } configured)
        {
            if (!File.Exists(configured))
            {
                throw new RrqException($"RRQ_WORKER is set to '{configured}', which does not exist. Point it at the rrq-worker program or rrq-worker.dll.");
            }
            return Launch(configured);
        }
        foreach (var c in Candidates())
        {
            if (File.Exists(c))
            {
                return Launch(c);
            }
        }
        throw new RrqException(
            "Cannot find the rrq-worker program to spawn workers: it is not beside this app (nor in its rrq-worker/ folder), " +
            "not in the Rrq.Scripting package, and not on the PATH. Reference the Rrq.Scripting package (it puts the worker in " +
            "your app's output), install the tool (dotnet tool install -g rrq-worker), or set RRQ_WORKER to the path of rrq-worker.dll.");
    }

    private static (string FileName, string[] Prefix) Launch(string path) =>
        path.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) ? (DotnetHost(), [path]) : (path, []);

    private static IEnumerable<string> Candidates()
    {
        var scripting = ScriptingDirectory();
        foreach (var dir in new[] { AppContext.BaseDirectory, Path.GetDirectoryName(typeof(WorkerLauncher).Assembly.Location), scripting })
        {
            if (!string.IsNullOrEmpty(dir))
            {
                yield return Path.Combine(dir, "rrq-worker.dll");
                yield return Path.Combine(dir, "rrq-worker", "rrq-worker.dll");
            }
        }
        // The NuGet package layout: <cache>/rrq.scripting/<version>/lib/net10.0/Rrq.Scripting.dll beside
        // <cache>/rrq.scripting/<version>/tools/rrq-worker/; and Rrq (this assembly) of the same version beside it.
        if (!string.IsNullOrEmpty(scripting))
        {
            yield return Path.GetFullPath(Path.Combine(scripting, "..", "..", "tools", "rrq-worker", "rrq-worker.dll"));
        }
        var core = Path.GetDirectoryName(typeof(WorkerLauncher).Assembly.Location);
        if (!string.IsNullOrEmpty(core) && Path.GetFileName(Path.GetFullPath(Path.Combine(core, "..", "..", ".."))) == "rrq")
        {
            var version = Path.GetFileName(Path.GetFullPath(Path.Combine(core, "..", "..")));
            yield return Path.GetFullPath(Path.Combine(core, "..", "..", "..", "..", "rrq.scripting", version, "tools", "rrq-worker", "rrq-worker.dll"));
        }
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            yield return Path.Combine(dir, OperatingSystem.IsWindows() ? "rrq-worker.exe" : "rrq-worker");
        }
    }

    /// <summary>The folder of Rrq.Scripting, loading it if the app can (null when it has no Rrq.Scripting).</summary>
    private static string? ScriptingDirectory()
    {
        var assembly = AppDomain.CurrentDomain.GetAssemblies().FirstOrDefault(a => a.GetName().Name == "Rrq.Scripting")
            ?? Type.GetType("Rrq.Scripting.RoslynTaskEvaluator, Rrq.Scripting", throwOnError: false)?.Assembly;
        return assembly is null || string.IsNullOrEmpty(assembly.Location) ? null : Path.GetDirectoryName(assembly.Location);
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

    /// <summary>Creates <paramref name="path"/> (empty) readable and writable by this user only, or narrows an existing
    /// one to that: worker logs and connection files are nobody else's business.</summary>
    internal static void PrivateFile(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        const UnixFileMode mine = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        if (File.Exists(path))
        {
            File.SetUnixFileMode(path, mine);
            return;
        }
        using var _ = new FileStream(path, new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.Write, UnixCreateMode = mine });
    }

    /// <summary>Sets a child's environment variables; "" removes one (a variable this process has that the child must not).</summary>
    internal static void SetEnvironment(ProcessStartInfo psi, IReadOnlyDictionary<string, string> environment)
    {
        foreach (var (k, v) in environment)
        {
            if (v.Length == 0)
            {
                psi.Environment.Remove(k);
            }
            else
            {
                psi.Environment[k] = v;
            }
        }
    }

    /// <summary>Creates a folder readable by this user only (or narrows an existing one).</summary>
    internal static void PrivateFolder(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
            return;
        }
        const UnixFileMode mine = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        Directory.CreateDirectory(path, mine);
        File.SetUnixFileMode(path, mine);
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
        SetEnvironment(psi, environment);
        PrivateFile(logFile);
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
