using Microsoft.Extensions.Logging;

namespace Rrq.Tests.Support;

/// <summary>A logger that keeps each entry as "Level: message" (and with its event, fields and scopes), for tests
/// that check what was logged.</summary>
public sealed class ListLogger : ILogger
{
    public sealed record Entry(LogLevel Level, EventId Event, string Message, IReadOnlyDictionary<string, object?> Fields,
        IReadOnlyDictionary<string, object?> Scope);

    private readonly AsyncLocal<IReadOnlyDictionary<string, object?>?> _scope = new();

    public List<string> Lines { get; } = [];

    public List<Entry> Entries { get; } = [];

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull
    {
        var before = _scope.Value;
        _scope.Value = state is IEnumerable<KeyValuePair<string, object>> pairs
            ? pairs.ToDictionary(p => p.Key, p => (object?)p.Value) : before;
        return new Restore(() => _scope.Value = before);
    }

    private sealed class Restore(Action undo) : IDisposable
    {
        public void Dispose() => undo();
    }

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (Lines)
        {
            Lines.Add($"{logLevel}: {formatter(state, exception)}");
            var fields = state is IEnumerable<KeyValuePair<string, object?>> kv ? kv.ToDictionary(p => p.Key, p => p.Value) : [];
            Entries.Add(new Entry(logLevel, eventId, formatter(state, exception), fields, _scope.Value ?? new Dictionary<string, object?>()));
        }
    }
}
