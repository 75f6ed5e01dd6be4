using System.Diagnostics;

namespace Rrq.Workers;

/// <summary>
/// A child process for one separate-process task (<c>rrq-worker child</c>). It is started ahead of
/// need, loads the environment its worker compiled, then waits on its standard input for the task;
/// it writes the outcome to a file and exits. Its output lines go to a sink (the task's log). When the worker
/// goes away, the child's standard input closes and the child ends itself.
/// </summary>
internal sealed class ChildProcess : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _early = [];
    private readonly Lock _gate = new();
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Action<string>? _sink;

    private ChildProcess(Process process, string dir, long envirVersion)
    {
        _process = process;
        Dir = dir;
        EnvirVersion = envirVersion;
    }

    public long EnvirVersion { get; }

    public int Pid => _process.Id;

    public string Dir { get; }

    public bool HasExited => _process.HasExited;

    /// <summary>Completes when the child has written its outcome (or has ended).</summary>
    public Task Done => _done.Task;

    /// <summary>Completes when the child has loaded the environment and waits for its task (or has ended).</summary>
    public Task Ready => _ready.Task;

    private string ResultPath => Path.Combine(Dir, "result.bin");

    /// <summary>Where the worker writes the task for this child (<see cref="ChildTaskInput"/>) before <see cref="Assign"/>.</summary>
    public string InputPath => Path.Combine(Dir, "task.bin");

    /// <summary>Starts a child for a task to come, with the compiled environment in <paramref name="envirFile"/>.</summary>
    public static ChildProcess Start(string workDir, string envirFile, long envirVersion, RrqOffload? offload)
    {
        var dir = Directory.CreateDirectory(Path.Combine(workDir, "child-" + Guid.NewGuid().ToString("N")[..12])).FullName;
        var (file, prefix) = WorkerLauncher.Locate();
        string[] command = [file, .. prefix, "child", "--image", envirFile];
        // On Unix the shell merges standard error into standard output, so the task's log is one stream
        // in the order it was written, and the child's last line (its done marker) really is last.
        var psi = new ProcessStartInfo(OperatingSystem.IsWindows() ? command[0] : "/bin/sh")
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Environment.CurrentDirectory,
        };
        foreach (var a in OperatingSystem.IsWindows() ? command[1..] : ["-c", "exec \"$@\" 2>&1", "rrq-child", .. command])
        {
            psi.ArgumentList.Add(a);
        }
        // Tiered compilation recompiles a method once it has been called 30 times. A child's one compile calls thousands
        // of Roslyn's methods that often, and a child lives for one task: recompiling them only wasted its CPU (0.04 s
        // per separate-process task in the benchmark). At 1000 calls (hexadecimal, as the runtime reads it) only the
        // really hot code is. The worker itself keeps the default, so its own task path is optimised early. A value
        // the user set is kept.
        if (!psi.Environment.ContainsKey("DOTNET_TC_CallCountThreshold"))
        {
            psi.Environment["DOTNET_TC_CallCountThreshold"] = "0x3E8";
        }
        foreach (var name in WorkerRegistration.CredentialVariables)
        {
            psi.Environment.Remove(name);   // a child talks to its worker only, never to Redis
        }
        psi.Environment.Remove("RRQ_OFFLOAD");
        psi.Environment.Remove("RRQ_OFFLOAD_THRESHOLD");
        if (offload is not null)
        {
            // The child reads and writes large values where its worker does.
            psi.Environment["RRQ_OFFLOAD"] = offload.Path;
            psi.Environment["RRQ_OFFLOAD_THRESHOLD"] = offload.ThresholdBytes.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        var process = Process.Start(psi) ?? throw new RrqException($"Could not start a child process ({file}).");
        var child = new ChildProcess(process, dir, envirVersion);
        process.OutputDataReceived += (_, e) => child.Line(e.Data);
        process.ErrorDataReceived += (_, e) => child.Line(e.Data);
        process.Exited += (_, _) =>
        {
            child._ready.TrySetResult();
            child._done.TrySetResult();
        };
        process.EnableRaisingEvents = true;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    private void Line(string? data)
    {
        if (data is null)
        {
            return;
        }
        if (data == ChildTaskRunner.DoneMarker)
        {
            _done.TrySetResult();
            return;
        }
        if (data == ChildTaskRunner.ReadyMarker)
        {
            _ready.TrySetResult();
            return;
        }
        lock (_gate)
        {
            if (_sink is null)
            {
                _early.Add(data);
            }
            else
            {
                _sink(data);
            }
        }
    }

    /// <summary>Hands the child its task, written to <see cref="InputPath"/>. Output it printed so far (while
    /// loading the environment) goes to the sink first.</summary>
    public void Assign(RrqTaskContext context, Action<string> sink)
    {
        lock (_gate)
        {
            foreach (var l in _early)
            {
                sink(l);
            }
            _early.Clear();
            _sink = sink;
        }
        _process.StandardInput.WriteLine(string.Join('\t', "RUN", context.QueueId, context.WorkerId, context.TaskId, InputPath, ResultPath));
        _process.StandardInput.Flush();
    }

    /// <summary>Completes when the process has exited and its output has been read to the end.</summary>
    public Task WaitForExitAsync() => _process.WaitForExitAsync();

    /// <summary>How the process ended, for a DIED task's error: its exit code, or the signal that killed it.</summary>
    public string ExitDescription()
    {
        int code;
        try
        {
            code = _process.ExitCode;
        }
        catch (InvalidOperationException)
        {
            return $"its process (pid {Pid}) ended before the task finished";
        }
        // .NET reports a process killed by signal N on Unix as exit code 128 + N.
        if (!OperatingSystem.IsWindows() && code > 128 && code < 128 + 65)
        {
            var signal = code - 128;
            var name = signal switch { 2 => "SIGINT", 6 => "SIGABRT", 9 => "SIGKILL", 11 => "SIGSEGV", 15 => "SIGTERM", _ => null };
            return $"its process (pid {Pid}) was killed by signal {signal}{(name is null ? "" : $" ({name})")} before the task finished";
        }
        return $"its process (pid {Pid}) exited with code {code} before the task finished";
    }

    /// <summary>The outcome the child wrote, or null when it ended without one (killed, crashed).</summary>
    public ChildOutcome? ReadOutcome() => File.Exists(ResultPath) ? ChildOutcome.Read(ResultPath) : null;

    public void Kill()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            Kill();
            _process.WaitForExit(5000);
        }
        _process.Dispose();
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
