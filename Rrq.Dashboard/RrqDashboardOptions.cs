namespace Rrq.Dashboard;

/// <summary>How <see cref="RrqDashboardExtensions.MapRrqDashboard"/> serves a queue's dashboard.</summary>
public sealed class RrqDashboardOptions
{
    /// <summary>
    /// The authorization policy a user must satisfy to retry, cancel or delete tasks and to stop or kill workers
    /// (registered with <c>AddAuthorization</c>). Null, the default, makes the dashboard read-only: it shows no action
    /// buttons and refuses every action with 403, whoever asks.
    /// </summary>
    public string? ActionsPolicy { get; set; }

    /// <summary>The controller of the queue to show. Null, the default, takes the <see cref="RrqController"/> registered
    /// in the app's services (<c>services.AddRrq()</c>).</summary>
    public RrqController? Controller { get; set; }

    /// <summary>Rows on a page of tasks (1 to 500; default 50).</summary>
    public int PageSize { get; set; } = 50;

    /// <summary>How many of the newest failures the overview lists (0 to 100; default 10).</summary>
    public int RecentFailures { get; set; } = 10;

    /// <summary>How many minutes of throughput the overview's chart shows (1 to 1440; default 30).</summary>
    public int ThroughputMinutes { get; set; } = 30;

    /// <summary>How often open pages refresh when nothing is published on the queue's channels (default 5 s); a task
    /// finishing or a worker changing refreshes them at once.</summary>
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromSeconds(5);

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(PageSize, 1, nameof(PageSize));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(PageSize, 500, nameof(PageSize));
        ArgumentOutOfRangeException.ThrowIfNegative(RecentFailures, nameof(RecentFailures));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(RecentFailures, 100, nameof(RecentFailures));
        ArgumentOutOfRangeException.ThrowIfLessThan(ThroughputMinutes, 1, nameof(ThroughputMinutes));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(ThroughputMinutes, 1440, nameof(ThroughputMinutes));
        if (RefreshInterval <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(RefreshInterval), RefreshInterval, "RefreshInterval must be positive.");
        }
    }
}
