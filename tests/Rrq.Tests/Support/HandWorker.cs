using System.Collections.Concurrent;
using System.Diagnostics;

namespace Rrq.Tests.Support;

/// <summary>An rrq-worker process started by hand (as a scheduler or a service manager starts one), whose output lines a
/// test can wait for, and signal.</summary>
public sealed class HandWorker : IDisposable
{
    private readonly BlockingCollection<string> _lines = [];

    public HandWorker(string queueId, params string[] options) : this((RedisServer.Instance.Address, queueId), options)
    {
    }

    /// <summary>A worker on another Redis than the test server.</summary>
    public HandWorker((string Redis, string QueueId) at, params string[] options)
    {
        var (redis, queueId) = at;
        // Through env --default-signal: SIGINT as a terminal gives it. A test run started in the background of a
        // non-interactive shell (`.ci/run &`) ignores SIGINT and SIGQUIT, its children inherit that, and .NET then rightly
        // leaves SIGINT ignored, as a background job's should be.
        var psi = new ProcessStartInfo("env") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])["--default-signal=INT,QUIT", "dotnet", RrqWorkerCli.Dll, queueId, "--redis", redis, .. options])
        {
            psi.ArgumentList.Add(a);
        }
        Process = Process.Start(psi)!;
        Process.OutputDataReceived += (_, e) => Add(e.Data);
        Process.ErrorDataReceived += (_, e) => Add(e.Data);
        Process.Exited += (_, _) => Add("(exited)");
        Process.EnableRaisingEvents = true;
        Process.BeginOutputReadLine();
        Process.BeginErrorReadLine();
    }

    private void Add(string? line)
    {
        if (line is not null && !_lines.IsAddingCompleted)
        {
            _lines.Add(line);
        }
    }

    public Process Process { get; }

    public List<string> Seen { get; } = [];

    /// <summary>Waits for a line of the worker's log containing <paramref name="text"/>.</summary>
    public string WaitFor(string text, int seconds = 60)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        var exited = false;
        try
        {
            foreach (var line in _lines.GetConsumingEnumerable(cts.Token))
            {
                Seen.Add(line);
                if (line.Contains(text, StringComparison.Ordinal))
                {
                    return line;
                }
                if (line == "(exited)")
                {
                    // The exit can be told before the process's last lines, which are read as they come: this waits until
                    // its output has ended, so that every line it wrote is looked at before giving up.
                    Process.WaitForExit();
                    exited = true;
                }
                if (exited && _lines.Count == 0)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        throw new TimeoutException($"no line with '{text}' within {seconds} s; the worker said:\n{string.Join("\n", Seen)}");
    }

    public void Signal(string name)
    {
        using var kill = System.Diagnostics.Process.Start("kill", ["-" + name, Process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        kill.WaitForExit();
    }

    public int Exit(int seconds = 60)
    {
        Assert.True(Process.WaitForExit(seconds * 1000), $"the worker process did not exit within {seconds} s");
        Process.WaitForExit();
        return Process.ExitCode;
    }

    public void Dispose()
    {
        if (!Process.HasExited)
        {
            Process.Kill(entireProcessTree: true);
        }
        Process.Dispose();
        _lines.Dispose();
    }
}
