namespace Rrq.Workers;

/// <summary>
/// The child processes a worker keeps started ahead of its separate-process tasks. Each runs one
/// task and exits; the pool only makes sure that, when a task comes, a process has already started
/// and loaded the environment (see <see cref="RrqWorkerConfig.ReadyChildren"/>). Children of an
/// older environment are never handed a task.
/// </summary>
internal sealed class ChildPool(string workDir, RrqOffload? offload, Action<string> print) : IDisposable
{
    private readonly Lock _gate = new();
    private readonly List<ChildProcess> _children = [];
    private string? _envirFile;
    private long _envirVersion;
    private bool _disposed;

    /// <summary>The compiled environment new children load. Children started for another are stopped.</summary>
    public void UseEnvironment(string envirFile, long version)
    {
        List<ChildProcess> stale;
        lock (_gate)
        {
            if (_envirFile == envirFile)
            {
                return;
            }
            _envirFile = envirFile;
            _envirVersion = version;
            stale = [.. _children];
            _children.Clear();
        }
        Stop(stale);
    }

    /// <summary>A child for a task now: one that is ready (environment loaded, waiting), else the oldest still
    /// starting, else a new one.</summary>
    public ChildProcess Take()
    {
        List<ChildProcess> gone = [];
        try
        {
            lock (_gate)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                gone = _children.FindAll(c => c.HasExited || c.EnvirVersion != _envirVersion);
                _children.RemoveAll(gone.Contains);
                var child = _children.Find(c => c.Ready.IsCompleted) ?? _children.FirstOrDefault();
                if (child is null)
                {
                    return Start();
                }
                _children.Remove(child);
                return child;
            }
        }
        finally
        {
            Stop(gone);
        }
    }

    /// <summary>Starts children until <paramref name="count"/> are started or ready.</summary>
    public void Fill(int count)
    {
        lock (_gate)
        {
            if (_disposed || _envirFile is null)
            {
                return;
            }
            var exited = _children.FindAll(c => c.HasExited);
            _children.RemoveAll(exited.Contains);
            Stop(exited);
            try
            {
                while (_children.Count < count)
                {
                    _children.Add(Start());
                }
            }
            catch (Exception e) when (e is RrqException or IOException or UnauthorizedAccessException or System.ComponentModel.Win32Exception)
            {
                print(e.Message);
            }
        }
    }

    /// <summary>Stops children beyond the first <paramref name="count"/> (the newest go first).</summary>
    public void Trim(int count)
    {
        List<ChildProcess> extra;
        lock (_gate)
        {
            if (_children.Count <= count)
            {
                return;
            }
            extra = _children[count..];
            _children.RemoveRange(count, _children.Count - count);
        }
        Stop(extra);
    }

    private ChildProcess Start() => ChildProcess.Start(workDir, _envirFile!, _envirVersion, offload);

    /// <summary>Kills and reaps children off the caller's thread (a waiting child ends at once).</summary>
    private static void Stop(List<ChildProcess> children)
    {
        if (children.Count > 0)
        {
            _ = Task.Run(() => children.ForEach(c => c.Dispose()));
        }
    }

    public void Dispose()
    {
        List<ChildProcess> all;
        lock (_gate)
        {
            _disposed = true;
            all = [.. _children];
            _children.Clear();
        }
        foreach (var c in all)
        {
            c.Dispose();
        }
    }
}
