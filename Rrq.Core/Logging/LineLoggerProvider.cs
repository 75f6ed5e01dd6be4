using Microsoft.Extensions.Logging;

namespace Rrq.Logging;

/// <summary>
/// Writes each log entry as one line, <c>[HH:mm:ss.fff] message</c>, to a text writer: the console output of
/// <c>rrq-worker</c> (which <c>WorkerProcessLog</c> reads back) and of a worker created with an output writer.
/// Entries below <paramref name="minimum"/> are left out.
/// </summary>
internal sealed class LineLoggerProvider(TextWriter output, LogLevel minimum = LogLevel.Information, TimeProvider? time = null) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new LineLogger(output, minimum, time ?? TimeProvider.System);

    public void Dispose()
    {
    }

    private sealed class LineLogger(TextWriter output, LogLevel minimum, TimeProvider time) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= minimum && logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }
            var line = $"[{time.GetLocalNow():HH:mm:ss.fff}] {formatter(state, exception)}";
            lock (output)
            {
                output.WriteLine(line);
            }
        }
    }
}
