namespace Rrq.Workers;

/// <summary>The steps a worker has in flight (a claim, the task or message it took, and its record), so that a stop can
/// wait for them to end.</summary>
internal sealed class StepsInFlight
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<TaskCompletionSource, byte> _steps = new();

    /// <summary>A step starts; disposing the result ends it.</summary>
    public IDisposable Enter()
    {
        var step = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _steps.TryAdd(step, 0);
        return new End(this, step);
    }

    /// <summary>Waits until the steps in flight now have ended.</summary>
    public Task WhenEndedAsync(CancellationToken cancellationToken) =>
        _steps.IsEmpty ? Task.CompletedTask : Task.WhenAll(_steps.Keys.Select(s => s.Task)).WaitAsync(cancellationToken);

    private sealed class End(StepsInFlight owner, TaskCompletionSource step) : IDisposable
    {
        public void Dispose()
        {
            owner._steps.TryRemove(step, out _);
            step.TrySetResult();
        }
    }
}
