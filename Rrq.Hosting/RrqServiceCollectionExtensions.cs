using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Rrq.Hosting;

/// <summary>Registers Rrq in a Microsoft.Extensions service collection.</summary>
public static class RrqServiceCollectionExtensions
{
    /// <summary>
    /// Registers an <see cref="RrqController"/> singleton (connected on first use, disposed with the host), bound
    /// from the configuration section <paramref name="sectionPath"/> (default <c>"Rrq"</c>) and then from
    /// <paramref name="configure"/>. Its log goes to the host's logging as category <c>Rrq</c>.
    /// </summary>
    public static IServiceCollection AddRrq(this IServiceCollection services, Action<RrqOptions>? configure = null, string sectionPath = "Rrq")
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<RrqOptions>()
            .Configure<IServiceProvider>((o, sp) => sp.GetService<IConfiguration>()?.GetSection(sectionPath).Bind(o))
            .Validate(o => !string.IsNullOrWhiteSpace(o.QueueId),
                $"Rrq has no queue id: set \"{sectionPath}:QueueId\" in configuration (appsettings.json: \"{sectionPath}\": {{ \"QueueId\": \"rrq:app\" }}) " +
                "or in AddRrq(o => o.QueueId = \"...\").");
        if (configure is not null)
        {
            services.Configure(configure);
        }
        services.TryAddSingleton(sp =>
        {
            var o = sp.GetRequiredService<IOptions<RrqOptions>>().Value;
            var keys = o.SigningKeyFile is { Length: > 0 } file ? RrqSigningKeys.FromFile(file) : null;   // a bad file fails before connecting
            var controller = RrqController.Connect(o.QueueId, o.Redis, o.Follow, o.TimeoutTaskWait,
                sp.GetService<ILoggerFactory>()?.CreateLogger("Rrq"), o.Embedded);
            if (keys is not null)
            {
                controller.SigningKeys = keys;
            }
            return controller;
        });
        return services;
    }

    /// <summary>
    /// Runs workers of the queue inside this host, as a hosted service: they start with the host and, when it stops,
    /// finish the task they are running, record it and leave the queue as EXITED (give the host a
    /// <c>HostOptions.ShutdownTimeout</c> longer than your longest task). Bound from <c>"Rrq:Worker"</c>, then from
    /// <paramref name="configure"/>. Tasks run with Roslyn: the app needs the Rrq.Scripting package (or a
    /// registered <c>Func&lt;IRrqTaskEvaluator&gt;</c>). Calls <see cref="AddRrq"/> if it has not been.
    /// </summary>
    public static IServiceCollection AddRrqWorker(this IServiceCollection services, Action<RrqWorkerHostOptions>? configure = null,
        string sectionPath = "Rrq:Worker")
    {
        ArgumentNullException.ThrowIfNull(services);
        if (!services.Any(d => d.ServiceType == typeof(RrqController)))
        {
            services.AddRrq();
        }
        services.AddOptions<RrqWorkerHostOptions>()
            .Configure<IServiceProvider>((o, sp) => sp.GetService<IConfiguration>()?.GetSection(sectionPath).Bind(o))
            .Validate(o => o.Count >= 1, $"\"{sectionPath}:Count\" must be at least 1.");
        if (configure is not null)
        {
            services.Configure(configure);
        }
        services.AddHostedService<RrqWorkerService>();
        return services;
    }
}
