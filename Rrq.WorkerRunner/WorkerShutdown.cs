using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Rrq;
using Rrq.Logging;

/// <summary>
/// How an <c>rrq-worker</c> process is told to stop, and what bounds the stop. The first SIGTERM or SIGINT (Ctrl-C), or
/// for a spawned worker the end of its standard input (the process that spawned it has ended), asks for a clean stop:
/// the worker takes no more work, records the tasks it is running when they end, leaves the queue EXITED and the
/// process exits 0. A second SIGTERM or SIGINT asks to leave now: the tasks still running are recorded DIED (or retried
/// by their policy), and the process exits 128 + the signal's number. Once stopping, a worker whose Redis answers nothing
/// for <see cref="RedisGoneLimit"/> leaves at once and exits 1: nothing it did could be recorded, and waiting for a long
/// task would only keep the process alive with nobody to tell (a notebook kernel restarted with its embedded server is
/// the everyday case). SIGKILL, which no process can catch, is what lost-worker detection is for.
/// </summary>
internal sealed class WorkerShutdown : IDisposable
{
    /// <summary>How long Redis may go unanswered, once the worker is stopping, before the process leaves at once.</summary>
    internal static readonly TimeSpan RedisGoneLimit = TimeSpan.FromSeconds(15);

    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource<(int Code, string Why)> _now = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly PosixSignalRegistration _sigterm;
    private readonly PosixSignalRegistration _sigint;
    private ILogger _log = NullLogger.Instance;
    private int _signals;

    /// <summary>The clock its silence is measured on (a test's, or the system's).</summary>
    private readonly TimeProvider _time;

    public WorkerShutdown(bool exitWithStdin, TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
        _sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        _sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        if (exitWithStdin)
        {
            // Spawned workers: the spawning process holds our standard input open; when it ends, the pipe closes.
            new Thread(() =>
            {
                try
                {
                    while (Console.In.ReadLine() is not null)
                    {
                    }
                }
                catch (IOException)
                {
                }
                Stop("the process that spawned this worker has ended (its standard input closed)", "it leaves at once if Redis is gone too");
            })
            { IsBackground = true, Name = "rrq stdin watch" }.Start();
        }
    }

    /// <summary>Cancelled when a clean stop is asked for.</summary>
    public CancellationToken Stopping => _stop.Token;

    /// <summary>Completes when the process must leave without waiting for its tasks, with its exit code and why.</summary>
    public Task<(int Code, string Why)> Now => _now.Task;

    /// <summary>Where to say what happens (the worker's log, once it has one; standard error before).</summary>
    public void Use(ILogger log) => _log = log;

    /// <summary>Once stopping, watches <paramref name="redis"/>: when it has answered nothing for <see cref="RedisGoneLimit"/>,
    /// the process leaves now.</summary>
    public void Watch(RrqController controller) =>
        _stop.Token.Register(() => _ = Task.Run(() => WatchRedisAsync(controller)));

    private void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true;   // the process decides when it ends, not the runtime
        var (name, number) = context.Signal == PosixSignal.SIGINT ? ("SIGINT", 2) : ("SIGTERM", 15);
        if (Interlocked.Increment(ref _signals) == 1)
        {
            Stop(name, $"send {name} again to leave now");
        }
        else
        {
            Leave(128 + number, $"{name} again");
        }
    }

    private void Stop(string why, string again)
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }
        Say(() => RrqLog.StopRequested(_log, why, again), $"{why}: finishing the running task(s), then leaving; {again}");
        _stop.Cancel();
    }

    private void Leave(int code, string why)
    {
        if (_now.TrySetResult((code, why)))
        {
            Say(() => RrqLog.StopNow(_log, why), $"{why}: leaving now");
        }
    }

    private void Say(Action log, string line)
    {
        if (_log == NullLogger.Instance)
        {
            Console.Error.WriteLine($"rrq-worker: {line}");
        }
        else
        {
            log();
        }
    }

    private async Task WatchRedisAsync(RrqController controller)
    {
        var db = controller.Redis.GetDatabase();
        var lastAnswer = _time.GetUtcNow();
        while (!_now.Task.IsCompleted)
        {
            try
            {
                await db.PingAsync().WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
                lastAnswer = _time.GetUtcNow();
            }
            catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException or ObjectDisposedException)
            {
                var silent = _time.GetUtcNow() - lastAnswer;
                if (silent >= RedisGoneLimit)
                {
                    RrqLog.StopRedisGone(_log, controller.Address.Endpoints, Math.Round(silent.TotalSeconds));
                    _now.TrySetResult((1, "Redis gone"));
                    return;
                }
            }
            await Task.Delay(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
        }
    }

    public void Dispose()
    {
        _sigterm.Dispose();
        _sigint.Dispose();
        _stop.Dispose();
    }
}
