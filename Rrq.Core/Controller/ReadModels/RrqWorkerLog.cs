using System.Collections;
using System.Globalization;
using System.Text;

namespace Rrq;

/// <summary>What <see cref="RrqController.WorkerLogTail(IEnumerable{string}?, int)"/> returns: worker log lines,
/// oldest first. It prints as rrq prints a worker log: one line per entry, with its worker, time and command.</summary>
public sealed class RrqWorkerLog : IReadOnlyList<RrqWorkerLogEntry>
{
    private readonly RrqWorkerLogEntry[] _entries;

    internal RrqWorkerLog(RrqWorkerLogEntry[] entries) => _entries = entries;

    /// <inheritdoc />
    public RrqWorkerLogEntry this[int index] => _entries[index];

    /// <inheritdoc />
    public int Count => _entries.Length;

    /// <inheritdoc />
    public IEnumerator<RrqWorkerLogEntry> GetEnumerator() => ((IEnumerable<RrqWorkerLogEntry>)_entries).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => _entries.GetEnumerator();

    /// <summary>One line per entry: <c>2026-12-02 05:48:25.123  worker_1  TASK_START  3f9a...</c>.</summary>
    public override string ToString()
    {
        if (_entries.Length == 0)
        {
            return "(no log lines)";
        }
        var width = _entries.Max(e => e.WorkerId.Length);
        var command = _entries.Max(e => e.Command.Length);
        var text = new StringBuilder();
        foreach (var e in _entries)
        {
            text.Append(e.Time.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture)).Append("  ")
                .Append(e.WorkerId.PadRight(width)).Append("  ").Append(e.Command.PadRight(command));
            if (e.Message.Length > 0)
            {
                text.Append("  ").Append(e.Message);
            }
            text.Append('\n');
        }
        return text.ToString().TrimEnd('\n');
    }
}
