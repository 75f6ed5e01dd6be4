namespace Rrq.Tests.Support;

/// <summary>
/// A go-ahead file that task code waits for, so a test decides when a running task ends instead of
/// guessing with a sleep: pass <see cref="Locals"/> with the task and put <see cref="Wait"/> in its
/// expression; <see cref="Open"/> lets it go on. Disposing deletes the file.
/// </summary>
public sealed class Gate : IDisposable
{
    /// <summary>Task code that waits until the gate is open; it reads the local <c>go</c>.</summary>
    public const string Wait = "while (!File.Exists(go)) System.Threading.Thread.Sleep(20);";

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "rrq-go-" + Guid.NewGuid().ToString("N"));

    /// <summary>The task's locals: <c>go</c>, the file's path.</summary>
    public object Locals => new { go = Path };

    public void Open() => File.WriteAllText(Path, "");

    public void Dispose() => File.Delete(Path);
}
