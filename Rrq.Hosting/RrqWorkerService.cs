using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Rrq.Hosting;

/// <summary>The workers of <see cref="RrqServiceCollectionExtensions.AddRrqWorker"/>: they run until the host stops
/// (then finish their current task) or until a STOP message or their idle timeout ends them.</summary>
internal sealed partial class RrqWorkerService(IServiceProvider services, IOptions<RrqWorkerHostOptions> options, ILogger<RrqWorkerService> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        // Connecting blocks; off the host's start-up thread.
        var controller = await Task.Run(services.GetRequiredService<RrqController>, stoppingToken).ConfigureAwait(false);
        var evaluator = services.GetService<Func<IRrqTaskEvaluator>>() ?? RoslynEvaluator;
        var workers = new List<RrqWorker>();
        try
        {
            for (var i = 0; i < o.Count; i++)
            {
                var name = o.Name is null ? null : o.Count == 1 ? o.Name : $"{o.Name}_{i + 1}";
                workers.Add(await RrqWorker.CreateAsync(controller, evaluator(), name, o.Config, output: null, stoppingToken).ConfigureAwait(false));
            }
            await Task.WhenAll(workers.Select(w => RunAsync(w, stoppingToken))).ConfigureAwait(false);
        }
        finally
        {
            foreach (var w in workers)
            {
                await w.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private async Task RunAsync(RrqWorker worker, CancellationToken stoppingToken)
    {
        // Off the caller's thread, so that the workers' first steps run side by side.
        await Task.Yield();
        await worker.RunAsync(stoppingToken).ConfigureAwait(false);
        if (!stoppingToken.IsCancellationRequested)
        {
            Log.Ended(logger, worker.Id, worker.QueueId);
        }
    }

    private static IRrqTaskEvaluator RoslynEvaluator()
    {
        var type = Type.GetType("Rrq.Scripting.RoslynTaskEvaluator, Rrq.Scripting", throwOnError: false)
            ?? throw new InvalidOperationException("AddRrqWorker runs tasks with Roslyn, which comes with the Rrq.Scripting package: " +
                "add it to the app (or register a Func<IRrqTaskEvaluator> of your own).");
        return (IRrqTaskEvaluator)Activator.CreateInstance(type)!;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Information,
            Message = "Worker {WorkerId} of queue {QueueId} has stopped (a STOP message, its idle timeout or recycling); the host goes on without it")]
        public static partial void Ended(ILogger logger, string workerId, string queueId);
    }
}
