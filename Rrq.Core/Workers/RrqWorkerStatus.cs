namespace Rrq;

/// <summary>What a worker is doing, as stored in <c>{queue}:worker:status</c>.</summary>
[Display.TypeFormatterSource(typeof(Display.RrqFormatterSource))]
public enum RrqWorkerStatus
{
    /// <summary>Registered and waiting for a task.</summary>
    Idle,
    /// <summary>Running a task.</summary>
    Busy,
    /// <summary>Answering messages but taking no tasks.</summary>
    Paused,
    /// <summary>Stopped cleanly (or killed through the API).</summary>
    Exited,
    /// <summary>Its heartbeat expired: the process or its machine is gone.</summary>
    Lost,
}

/// <summary>The one conversion between worker statuses and stored strings.</summary>
public static class RrqWorkerStatusExtensions
{
    /// <summary>The string stored in Redis ("IDLE", "BUSY", ...).</summary>
    public static string ToRedisString(this RrqWorkerStatus status) => status switch
    {
        RrqWorkerStatus.Idle => "IDLE",
        RrqWorkerStatus.Busy => "BUSY",
        RrqWorkerStatus.Paused => "PAUSED",
        RrqWorkerStatus.Exited => "EXITED",
        RrqWorkerStatus.Lost => "LOST",
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, "Unknown worker status."),
    };

    /// <summary>Parses a stored worker status.</summary>
    public static RrqWorkerStatus ParseWorkerStatus(string value) => value switch
    {
        "IDLE" => RrqWorkerStatus.Idle,
        "BUSY" => RrqWorkerStatus.Busy,
        "PAUSED" => RrqWorkerStatus.Paused,
        "EXITED" => RrqWorkerStatus.Exited,
        "LOST" => RrqWorkerStatus.Lost,
        _ => throw new FormatException($"Unknown worker status '{value}' stored in Redis."),
    };
}
