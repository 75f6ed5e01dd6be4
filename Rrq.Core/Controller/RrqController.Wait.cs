using Rrq.Scripts;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Rrq.Controller;

namespace Rrq;

public sealed partial class RrqController
{
    /// <summary>
    /// Waits for a task to finish, woken by the notification its worker publishes (no polling).
    /// Returns true if it COMPLETEd; false if it failed or <paramref name="timeout"/> passed first, as rrq does, so a
    /// loop such as <c>while (!obj.TaskWait(ids, TimeSpan.FromSeconds(1))) { ... }</c> works. A wait that nobody can
    /// end is said so: when no live worker listens to the queue of a task still waited for (no worker at all, or a
    /// typo in the queue name), a warning naming that queue and the queues live workers listen to is logged once per
    /// wait (two seconds in, or at the timeout if that comes first), on standard error when the controller has no
    /// logger (a notebook shows it under the cell).
    /// </summary>
    /// <param name="taskId">The task (with follow, the newest task of its retry chain is waited for).</param>
    /// <param name="timeout">How long to wait; null uses the controller's <see cref="TimeoutTaskWait"/> (for ever by default).</param>
    /// <exception cref="RrqException">The task does not exist (MISSING).</exception>
    public bool TaskWait(string taskId, TimeSpan? timeout = null) =>
        TaskWaitAsync([taskId], timeout).GetAwaiter().GetResult();

    /// <summary>Waits for all the tasks; true if all of them COMPLETEd. With <paramref name="progress"/>
    /// (default: when standard error is a terminal) a progress bar is drawn on standard error.</summary>
    public bool TaskWait(IEnumerable<string> taskIds, TimeSpan? timeout = null, bool? progress = null) =>
        TaskWaitAsync(taskIds, timeout, progress: progress).GetAwaiter().GetResult();

    /// <summary>How often a wait reads the statuses again in case a notification was missed.</summary>
    internal static TimeSpan WaitSafetyPoll { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How many times this controller's waits have been woken to read notices (a wait on many tasks should be
    /// woken about once, when the last settles, not once per task).</summary>
    internal long WaitWakes => Interlocked.Read(ref _waitWakes);

    private long _waitWakes;

    /// <summary>How many waits have read their tasks' statuses and listen for the rest (tests wait on this, not a pause).</summary>
    internal long WaitsListening => Interlocked.Read(ref _waitsListening);

    private long _waitsListening;

    /// <summary>How often a wait with a progress bar redraws it.</summary>
    private static readonly TimeSpan ProgressEvery = TimeSpan.FromMilliseconds(100);

    /// <inheritdoc cref="TaskWait(string, TimeSpan?)"/>
    public Task<bool> TaskWaitAsync(string taskId, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        TaskWaitAsync([taskId], timeout, follow: null, progress: false, cancellationToken);

    /// <inheritdoc cref="TaskWait(IEnumerable{string}, TimeSpan?, bool?)"/>
    public async Task<bool> TaskWaitAsync(IEnumerable<string> taskIds, TimeSpan? timeout = null, bool? follow = null,
        bool? progress = null, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        var ids = ToIdArray(taskIds);
        if (ids.Length == 0)
        {
            throw new ArgumentException("TaskWait needs at least one task id.", nameof(taskIds));
        }
        CheckTimeout(timeout, nameof(timeout));
        var limit = timeout ?? TimeoutTaskWait ?? Timeout.InfiniteTimeSpan;
        var doFollow = follow ?? Follow;

        // Listen first, then read: a task that finishes in between is still seen.
        using var registration = await _waiter.RegisterAsync().ConfigureAwait(false);
        var given = ids.Distinct(StringComparer.Ordinal).ToArray();
        var (leaves, statuses) = await ResolveAsync(given, doFollow).ConfigureAwait(false);
        var missing = given.Where((_, i) => statuses[i] == RrqTaskStatus.Missing).ToArray();
        if (missing.Length > 0)
        {
            throw new RrqException(
                $"Cannot wait on tasks that do not exist in queue '{QueueId}' (MISSING): {string.Join(", ", missing)}.");
        }

        // watched: the id whose completion we expect (the chain's newest task) → the ids given for it.
        var outcome = new Dictionary<string, RrqTaskStatus>(StringComparer.Ordinal);
        var watched = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        void Track(string id, string leaf, RrqTaskStatus status)
        {
            if (status.IsUnfinished())
            {
                (watched.TryGetValue(leaf, out var list) ? list : watched[leaf] = []).Add(id);
            }
            else
            {
                outcome[id] = status;
            }
        }
        for (var i = 0; i < given.Length; i++)
        {
            Track(given[i], leaves[i], statuses[i]);
        }

        using var timeoutCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (limit != Timeout.InfiniteTimeSpan)
        {
            timeoutCts.CancelAfter(limit);
        }
        using var bar = watched.Count > 0 ? ProgressBar.Create(progress, given.Length, "finished") : null;
        var polled = false;
        var listenersChecked = false;
        registration.Watch(watched.Keys);
        Interlocked.Increment(ref _waitsListening);
        // Notifications are the fast path: the registration wakes this loop when the last watched task settles, or one
        // needs a fresh look. Should one be missed (a dropped subscription that the client did not notice, a lost
        // publication), the statuses are read again after a quiet spell: no notice at all for WaitSafetyPoll.
        var lastLook = Environment.TickCount64;
        try
        {
            while (watched.Count > 0)
            {
                bar?.Report(outcome.Count);
                var quietMs = Environment.TickCount64 - Math.Max(registration.LastNotice, lastLook);
                var wait = WaitSafetyPoll - TimeSpan.FromMilliseconds(quietMs);
                if (bar is not null && wait > ProgressEvery)
                {
                    wait = ProgressEvery;
                }
                if (wait > TimeSpan.Zero)
                {
                    await registration.WaitAsync(wait, timeoutCts.Token).ConfigureAwait(false);
                }
                var notices = registration.Take();
                Interlocked.Increment(ref _waitWakes);
                if (notices.Count == 0)
                {
                    if (Environment.TickCount64 - Math.Max(registration.LastNotice, lastLook) < (long)WaitSafetyPoll.TotalMilliseconds)
                    {
                        continue;   // woken to redraw the bar, or by a notice taken already
                    }
                    notices.Add(CompletionWaiter.Recheck);
                    polled = true;
                }
                var recheck = new List<string>();
                foreach (var message in notices)
                {
                    if (ReferenceEquals(message, CompletionWaiter.Recheck))
                    {
                        recheck.AddRange(watched.Values.SelectMany(v => v));
                        watched.Clear();
                        continue;
                    }
                    var space = message.IndexOf(' ', StringComparison.Ordinal);
                    var id = space < 0 ? message : message[..space];
                    if (!watched.Remove(id, out var waiting))
                    {
                        continue;
                    }
                    var status = space < 0 ? RrqTaskStatus.Missing : RrqTaskStatusExtensions.ParseTaskStatus(message[(space + 1)..]);
                    if (status == RrqTaskStatus.Moved && doFollow || status == RrqTaskStatus.Missing)
                    {
                        recheck.AddRange(waiting);   // retried: wait for the chain's new task instead
                    }
                    else
                    {
                        foreach (var w in waiting)
                        {
                            outcome[w] = status;
                        }
                    }
                }
                if (recheck.Count > 0)
                {
                    var again = recheck.ToArray();
                    var fromPoll = polled;
                    polled = false;
                    registration.KeepAll();   // listen first, then read, as at the start
                    var (l, st) = await ResolveAsync(again, doFollow).ConfigureAwait(false);
                    lastLook = Environment.TickCount64;
                    var before = outcome.Count;
                    for (var i = 0; i < again.Length; i++)
                    {
                        Track(again[i], l[i], st[i]);
                    }
                    registration.Watch(watched.Keys);
                    if (fromPoll && outcome.Count > before)
                    {
                        Logging.RrqLog.WaitMissedNotifications(Logger, QueueId, outcome.Count - before);
                    }
                    if (fromPoll && !listenersChecked && watched.Count > 0)
                    {
                        listenersChecked = true;
                        if (await NobodyListensAsync(watched.Keys, cancellationToken).ConfigureAwait(false) is { } nobody)
                        {
                            WarnOnce(nobody);
                        }
                    }
                }
            }
        }
        catch (OperationCanceledException) when (timeoutCts.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            // The timeout (and only the timeout: a cancellation from inside, such as a call given up, is not one): false, as
            // rrq answers, whoever listens. A wait that nobody could have ended says why, once.
            if (!listenersChecked && await NobodyListensAsync(watched.Keys, cancellationToken).ConfigureAwait(false) is { } nobody)
            {
                WarnOnce(nobody);
            }
            return false;
        }
        finally
        {
            bar?.Report(outcome.Count, force: true);
        }
        return ids.All(id => outcome.TryGetValue(id, out var st) && st == RrqTaskStatus.Complete);
    }

    /// <summary>What to tell a waiter when no live worker listens to the queue of a task it waits for (null when
    /// every such queue has one). RUNNING tasks are left out: they have a worker.</summary>
    private async Task<string?> NobodyListensAsync(IEnumerable<string> waitedFor, CancellationToken cancellationToken)
    {
        var ids = waitedFor.ToArray();
        if (ids.Length == 0)
        {
            return null;
        }
        var statuses = await TaskStatusAsync(ids, follow: false, cancellationToken).ConfigureAwait(false);
        var queued = ids.Where((_, i) => statuses[i] is RrqTaskStatus.Pending or RrqTaskStatus.Deferred).ToArray();
        if (queued.Length == 0)
        {
            return null;
        }
        var taskQueues = await Queue.TaskFieldAsync(TaskField.Queue, [.. queued], cancellationToken)
            .ConfigureAwait(false);
        var byQueue = queued.Select((id, i) => (Id: id, Queue: taskQueues[i] ?? Rrq.Keys.RrqKeys.DefaultQueue))
            .GroupBy(x => x.Queue, StringComparer.Ordinal).ToList();
        var workers = (await WorkerInfoAsync(null, cancellationToken).ConfigureAwait(false)).Values.ToList();
        var live = (await WorkerListAsync(cancellationToken).ConfigureAwait(false)).ToHashSet(StringComparer.Ordinal);
        var listened = workers.Where(w => live.Contains(w.WorkerId)).SelectMany(w => w.Queues).ToHashSet(StringComparer.Ordinal);
        var orphans = byQueue.Where(g => !listened.Contains(g.Key)).ToList();
        if (orphans.Count == 0)
        {
            return null;
        }
        var which = string.Join("; ", orphans.Select(g =>
            $"queue '{g.Key}' (task {g.First().Id}{(g.Count() > 1 ? $" and {g.Count() - 1} more" : "")})"));
        return live.Count == 0
            ? $"no worker is running on '{QueueId}', so nothing will run {which}. Start workers with WorkerSpawn, or run " +
              $"`rrq-worker {QueueId}` on any machine pointed at this Redis."
            : $"no live worker listens to {which}; the {live.Count} live worker{(live.Count > 1 ? "s" : "")} listen{(live.Count > 1 ? "" : "s")} to " +
              $"{string.Join(", ", listened.Order(StringComparer.Ordinal).Select(q => $"'{q}'"))}. Check the queue name given when the task " +
              "was created, or start a worker whose config lists that queue (WorkerConfigSave with queues, then WorkerSpawn with that config).";
    }

    private void WarnOnce(string nobody)
    {
        var line = $"⚠ TaskWait: {nobody}";
        if (Logger == NullLogger.Instance)
        {
            Console.Error.WriteLine(line);
        }
        else
        {
            Logging.RrqLog.WaitNobodyListens(Logger, nobody);
        }
    }
}
