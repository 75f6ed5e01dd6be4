using System.Collections;
using System.Globalization;
using System.Text;

namespace Rrq;

/// <summary>
/// What <see cref="RrqController.WorkerInfo"/> returns: each worker's <see cref="RrqWorkerInfo"/> by id,
/// in the order asked (natural order for all workers). It prints, and shows in a notebook, as one
/// table with a row per worker.
/// </summary>
[Display.TypeFormatterSource(typeof(Display.RrqFormatterSource))]
public sealed class RrqWorkerInfoDictionary : IReadOnlyDictionary<string, RrqWorkerInfo>
{
    private readonly Dictionary<string, RrqWorkerInfo> _byId;
    private readonly List<string> _order;

    internal RrqWorkerInfoDictionary(IEnumerable<RrqWorkerInfo> infos)
    {
        _byId = new(StringComparer.Ordinal);
        _order = [];
        foreach (var info in infos)
        {
            if (_byId.TryAdd(info.WorkerId, info))
            {
                _order.Add(info.WorkerId);
            }
        }
    }

    /// <inheritdoc />
    public RrqWorkerInfo this[string key] => _byId.TryGetValue(key, out var info) ? info
        : throw new KeyNotFoundException($"No information about worker '{key}' here; it has: {string.Join(", ", _order)}.");

    /// <inheritdoc />
    public IEnumerable<string> Keys => _order;

    /// <inheritdoc />
    public IEnumerable<RrqWorkerInfo> Values => _order.Select(k => _byId[k]);

    /// <inheritdoc />
    public int Count => _order.Count;

    /// <inheritdoc />
    public bool ContainsKey(string key) => _byId.ContainsKey(key);

    /// <inheritdoc />
    public bool TryGetValue(string key, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out RrqWorkerInfo value) =>
        _byId.TryGetValue(key, out value);

    /// <inheritdoc />
    public IEnumerator<KeyValuePair<string, RrqWorkerInfo>> GetEnumerator() =>
        _order.Select(k => new KeyValuePair<string, RrqWorkerInfo>(k, _byId[k])).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>The columns of the table, as text: worker, host, pid, config, queues, started, heartbeat key.</summary>
    internal static readonly string[] Columns = ["worker", "host", "pid", "config", "queues", "started", "heartbeat"];

    internal static string[] Row(RrqWorkerInfo w) =>
    [
        w.WorkerId, w.Hostname, w.Pid.ToString(CultureInfo.InvariantCulture), w.Config, string.Join(",", w.Queues),
        w.Started.ToString("u", CultureInfo.InvariantCulture), w.HeartbeatKey is null ? "none" : "yes",
    ];

    /// <summary>An aligned text table, one row per worker.</summary>
    public override string ToString()
    {
        var rows = Values.Select(Row).Prepend(Columns).ToArray();
        var widths = Columns.Select((_, c) => rows.Max(r => r[c].Length)).ToArray();
        var sb = new StringBuilder();
        foreach (var r in rows)
        {
            sb.AppendLine(string.Join("  ", r.Select((cell, c) => cell.PadRight(widths[c]))).TrimEnd());
        }
        return sb.ToString().TrimEnd();
    }
}
