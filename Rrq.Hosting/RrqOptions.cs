namespace Rrq.Hosting;

/// <summary>
/// The controller that <see cref="RrqServiceCollectionExtensions.AddRrq"/> registers, bound from the <c>"Rrq"</c>
/// configuration section (<c>"Rrq": { "QueueId": "rrq:app", "Redis": "redis.example:6379,password=..." }</c>)
/// and then from the delegate given to <c>AddRrq</c>.
/// </summary>
public sealed class RrqOptions
{
    /// <summary>The queue (required).</summary>
    public string QueueId { get; set; } = "";

    /// <summary>A StackExchange.Redis connection string or <c>redis://</c> URL; null uses <c>RRQ_REDIS</c>, then
    /// <c>REDIS_URL</c>, then <c>localhost:6379</c>. Keep a password in a secret store or the environment, not in
    /// appsettings.json.</summary>
    public string? Redis { get; set; }

    /// <summary>A file of signing keys (one per line, readable by its owner only; see <see cref="RrqSigningKeys"/>): tasks,
    /// environments and messages this app submits are signed with the first, and its workers run only what one of them
    /// signed. Null uses <c>RRQ_SIGNING_KEY_FILE</c>, and without it nothing is signed.</summary>
    public string? SigningKeyFile { get; set; }

    /// <summary>Whether task reads follow retry chains to their newest task (default true).</summary>
    public bool Follow { get; set; } = true;

    /// <summary>How long <c>TaskWait</c> waits when given no timeout; null waits for ever.</summary>
    public TimeSpan? TimeoutTaskWait { get; set; }

    /// <summary>Whether to start the embedded server (the Rrq.Embedded package) when no Redis is configured and none
    /// answers on localhost:6379 (default true; without that package it does nothing).</summary>
    public bool Embedded { get; set; } = true;
}
