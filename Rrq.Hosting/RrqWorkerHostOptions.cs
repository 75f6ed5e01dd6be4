namespace Rrq.Hosting;

/// <summary>
/// The workers that <see cref="RrqServiceCollectionExtensions.AddRrqWorker"/> runs inside the host, bound from the
/// <c>"Rrq:Worker"</c> configuration section and then from the delegate given to <c>AddRrqWorker</c>.
/// </summary>
public sealed class RrqWorkerHostOptions
{
    /// <summary>How many workers to run in this process (default 1); each runs one task at a time.</summary>
    public int Count { get; set; } = 1;

    /// <summary>The saved worker configuration to use (default "localhost"; see <c>WorkerConfigSave</c>).</summary>
    public string Config { get; set; } = "localhost";

    /// <summary>The worker id (with several workers, <c>Name_1</c>, <c>Name_2</c>, ...); null picks random
    /// adjective_animal names.</summary>
    public string? Name { get; set; }
}
