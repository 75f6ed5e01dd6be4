using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Rrq.Hosting;

/// <summary>Health checks for a host that uses Rrq: <c>services.AddHealthChecks().AddRrq()</c>.</summary>
public static class RrqHealthCheckBuilderExtensions
{
    /// <summary>
    /// Adds two checks: <c>rrq-redis</c> (the queue's Redis answers a PING; unhealthy otherwise) and
    /// <c>rrq-workers</c> (at least <paramref name="minimumWorkers"/> workers of the queue are alive: registered and,
    /// for workers with a heartbeat, with it current; <paramref name="workersFailureStatus"/> otherwise).
    /// Pass 0 to check only Redis (an app that submits but runs no workers).
    /// </summary>
    public static IHealthChecksBuilder AddRrq(this IHealthChecksBuilder builder, int minimumWorkers = 1,
        HealthStatus workersFailureStatus = HealthStatus.Unhealthy, IEnumerable<string>? tags = null, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentOutOfRangeException.ThrowIfNegative(minimumWorkers);
        var t = tags?.ToArray() ?? ["rrq"];
        builder.Add(new HealthCheckRegistration("rrq-redis", sp => new RrqRedisHealthCheck(sp.GetRequiredService<RrqController>),
            HealthStatus.Unhealthy, t, timeout ?? TimeSpan.FromSeconds(5)));
        if (minimumWorkers > 0)
        {
            builder.Add(new HealthCheckRegistration("rrq-workers",
                sp => new RrqWorkersHealthCheck(sp.GetRequiredService<RrqController>, minimumWorkers),
                workersFailureStatus, t, timeout ?? TimeSpan.FromSeconds(5)));
        }
        return builder;
    }
}

/// <summary>Healthy when the queue's Redis answers a PING (its round trip is in the data).</summary>
internal sealed class RrqRedisHealthCheck(Func<RrqController> controller) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        RrqController obj;
        try
        {
            obj = controller();
        }
        catch (RrqException e)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, e.Message, e);
        }
        try
        {
            // Not through the retry layer: a health check reports how Redis answers now, it does not wait out an outage.
            var latency = await obj.Redis.GetDatabase().PingAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
            return HealthCheckResult.Healthy($"Redis at {obj.Address.Endpoints} answers ({latency.TotalMilliseconds:0.#} ms)",
                new Dictionary<string, object> { ["latency_ms"] = latency.TotalMilliseconds, ["queue"] = obj.QueueId });
        }
        catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException or OperationCanceledException)
        {
            return new HealthCheckResult(context.Registration.FailureStatus,
                $"Redis at {obj.Address.Endpoints} does not answer: {e.Message}", e);
        }
    }
}

/// <summary>Healthy when at least a given number of the queue's workers are alive.</summary>
internal sealed class RrqWorkersHealthCheck(Func<RrqController> controller, int minimum) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var obj = controller();
            var alive = await obj.WorkerAliveAsync(cancellationToken).ConfigureAwait(false);
            var data = new Dictionary<string, object> { ["alive"] = alive.Count, ["minimum"] = minimum, ["queue"] = obj.QueueId };
            return alive.Count >= minimum
                ? HealthCheckResult.Healthy($"{alive.Count} live worker{(alive.Count == 1 ? "" : "s")} on queue '{obj.QueueId}'", data)
                : new HealthCheckResult(context.Registration.FailureStatus,
                    $"{alive.Count} live worker{(alive.Count == 1 ? "" : "s")} on queue '{obj.QueueId}' (at least {minimum} expected)", data: data);
        }
        catch (Exception e) when (e is RrqException or StackExchange.Redis.RedisException or OperationCanceledException)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, $"Cannot count the workers: {e.Message}", e);
        }
    }
}
