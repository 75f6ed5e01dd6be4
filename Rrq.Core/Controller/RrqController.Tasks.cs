using Microsoft.Extensions.Logging;
using System.Collections;
using System.Reflection;
using System.Security.Cryptography;
using MemoryPack;
using Rrq.Keys;
using Rrq.Scripts;
using Rrq.Store;
using Rrq.Tasks;
using StackExchange.Redis;

namespace Rrq;

public sealed partial class RrqController
{
    /// <summary>
    /// Queues a C# expression to run on a worker, with named values it can use
    /// (rrq's <c>rrq_task_create_expr</c>). Returns the new task's id at once.
    /// </summary>
    /// <param name="expr">A C# expression (or statements ending in an expression), e.g. <c>fit_model(x, y)</c>.</param>
    /// <param name="locals">Named values: an anonymous object (<c>new { x, y }</c>) or an
    /// <see cref="IReadOnlyDictionary{TKey, TValue}"/> of string to object.</param>
    /// <param name="queue">The queue to put it on; null for "default".</param>
    /// <param name="separateProcess">Run it in a child process of the worker: isolated from the worker
    /// (a crash makes the task DIED, not the worker), cancellable while running, with a time limit and
    /// its own log (<see cref="TaskLog"/>).</param>
    /// <param name="timeout">Run-time limit (positive); only with <paramref name="separateProcess"/>.
    /// Past it the process is killed and the task is TIMEOUT.</param>
    /// <param name="dependsOn">Tasks that must COMPLETE first. Until then the task is DEFERRED; if one of
    /// them fails it becomes IMPOSSIBLE. A retried (MOVED) id stands for the newest task of its chain.</param>
    /// <exception cref="RrqValueException">A local cannot be serialized (the message names it).</exception>
    /// <param name="retry">Retry it automatically when it fails (see <see cref="RrqRetryPolicy"/>); null for never.</param>
    /// <param name="delay">Run it no sooner than this long after submission (positive): it is PENDING meanwhile,
    /// but not yet in its queue. Not with <paramref name="dependsOn"/>. Null (the default) queues it at once.</param>
    public string TaskCreateExpr(string expr, object? locals = null, string? queue = null,
        bool separateProcess = false, TimeSpan? timeout = null, IEnumerable<string>? dependsOn = null, RrqRetryPolicy? retry = null,
        TimeSpan? delay = null) =>
        TaskCreateExprAsync(expr, locals, queue, separateProcess, timeout, dependsOn, retry, delay).GetAwaiter().GetResult();

    /// <inheritdoc cref="TaskCreateExpr"/>
    public async Task<string> TaskCreateExprAsync(string expr, object? locals = null, string? queue = null,
        bool separateProcess = false, TimeSpan? timeout = null, IEnumerable<string>? dependsOn = null, RrqRetryPolicy? retry = null,
        TimeSpan? delay = null, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ArgumentException.ThrowIfNullOrWhiteSpace(expr);
        queue ??= RrqKeys.DefaultQueue;
        QueueIdValidation.CheckName(queue, "queue name", nameof(queue));
        CheckTaskTimeout(timeout, separateProcess);

        var payload = BuildPayload(expr, locals);
        var ids = await SubmitAsync([payload], null, queue, separateProcess, timeout, dependsOn,
            retry, delay, cancellationToken).ConfigureAwait(false);
        return ids[0];
    }

    /// <summary>Submits already-built payloads as tasks of one queue, in slices of up to 500 tasks per script call
    /// (250 with dependencies), all sent at once (a bulk of thousands costs a few round trips).</summary>
    internal async Task<string[]> SubmitAsync(IReadOnlyList<TaskPayload> payloads, (string Id, byte[] Bytes, string Offloaded)? shared, string queue,
        bool separateProcess, TimeSpan? timeout, IEnumerable<string>? dependsOn, RrqRetryPolicy? retry, TimeSpan? delay,
        CancellationToken cancellationToken)
    {
        retry?.Validate();
        var deps = dependsOn is null ? [] : ToIdArray(dependsOn).Distinct(StringComparer.Ordinal).ToArray();
        CheckDelay(delay, deps.Length > 0);
        // A dependency that was retried stands for its chain: depend on the chain's newest task.
        deps = deps.Length == 0 ? deps : (await FollowAsync(deps).ConfigureAwait(false)).Distinct(StringComparer.Ordinal).ToArray();
        var ids = payloads.Select(_ => NewTaskId()).ToArray();
        using var activity = RrqTelemetry.Source.StartActivity("rrq.submit", System.Diagnostics.ActivityKind.Producer);
        if (activity is not null)
        {
            activity.SetTag("rrq.queue_id", QueueId);
            activity.SetTag("rrq.queue", queue);
            activity.SetTag("rrq.task_count", ids.Length);
            if (ids.Length == 1)
            {
                activity.SetTag("rrq.task_id", ids[0]);
            }
        }
        // The task carries the submitter's trace (this span, or the caller's when nobody listens to Rrq's).
        var (traceParent, traceState) = RrqTelemetry.Current();
        if (traceParent is not null)
        {
            var now = Time.GetUtcNow().ToUnixTimeMilliseconds();
            foreach (var p in payloads)
            {
                (p.TraceParent, p.TraceState, p.SubmittedAt) = (traceParent, traceState, now);
            }
        }
        _usedQueues.TryAdd(queue, 0);
        var head = new List<RedisValue>
        {
            queue, separateProcess ? "FALSE" : "TRUE",
            timeout is { } t ? t.TotalSeconds.ToString("R", System.Globalization.CultureInfo.InvariantCulture) : "",
            (string)Keys.QueueChannel(queue)!, (string)Keys.TaskCompleteChannel!, shared?.Id ?? "",
        };
        // Tasks per script: a few milliseconds of Redis (a task waiting for others writes about twice as much).
        var slice = deps.Length == 0 ? 500 : 250;
        // More links than one script writes in a few milliseconds: the tasks are created waiting for every dependency,
        // then linked to them a slice per script (task_link.lua), each counting those that have finished. The check
        // that every dependency exists comes first, so that a refusal writes nothing.
        var later = (long)deps.Length * Math.Min(ids.Length, slice) > LinksPerScript;
        if (later && await FirstMissingAsync(deps, cancellationToken).ConfigureAwait(false) is { } missing)
        {
            throw MissingDependency(missing);
        }
        head.AddRange(["", later ? 0 : deps.Length]);
        if (!later)
        {
            head.AddRange(deps.Select(d => (RedisValue)d));
        }
        // One slice in flight at a time: slices sent together could run in another order when one is sent again (NOSCRIPT
        // on a server that has not loaded the script yet, or a transient fault), and the queue (or the delayed set, by
        // each slice's time) would then not hold the tasks in submission order. The next slice is built while the one
        // before runs in Redis, so the two overlap as they did when all were sent at once.
        (Task<Scripts.SubmitReply> Call, int Start)? inFlight = null;
        for (var start = 0; start < ids.Length; start += slice)
        {
            var sliceHead = new List<RedisValue>(head);
            if (start == 0 && shared is { } sh)
            {
                sliceHead[6] = sh.Bytes;   // the shared locals travel once, with the first slice
            }
            var tasks = new List<RedisValue>();
            for (var i = start; i < Math.Min(start + slice, ids.Length); i++)
            {
                tasks.AddRange([ids[i], SealPayload("task", MemoryPackSerializer.Serialize(payloads[i])), OffloadedHashes(payloads[i])]);
            }
            if (inFlight is { } before)
            {
                CheckSubmitted(await before.Call.WaitAsync(cancellationToken).ConfigureAwait(false), before.Start, ids.Length);
            }
            inFlight = (Queue.TaskSubmitAsync(queue, sliceHead, tasks, retry?.ToRedisString() ?? "",
                start == 0 && shared is { } s ? s.Offloaded : "",
                delay is { } d ? ((long)Math.Ceiling(d.TotalMilliseconds)).ToString(System.Globalization.CultureInfo.InvariantCulture) : "",
                later ? deps : null, start, cancellationToken), start);
        }
        if (inFlight is { } last)
        {
            CheckSubmitted(await last.Call.WaitAsync(cancellationToken).ConfigureAwait(false), last.Start, ids.Length);
        }
        if (later)
        {
            await LinkAsync(queue, ids, cancellationToken).ConfigureAwait(false);
        }
        await ConfirmDurableAsync(ids, cancellationToken).ConfigureAwait(false);
        RrqTelemetry.Submitted.Add(ids.Length, RrqTelemetry.Tag("rrq.queue_id", QueueId), RrqTelemetry.Tag("rrq.queue", queue));
        return ids;
    }

    /// <summary>Throws for a slice of a submission that task_submit.lua refused (<paramref name="start"/>: its first task's
    /// index; the slices before it were created).</summary>
    private void CheckSubmitted(Scripts.SubmitReply reply, int start, int count)
    {
        var written = start == 0 ? "nothing was written" : $"the first {start} of the {count} tasks were created, the rest not";
        switch (reply.Code)
        {
            case -1:
                throw new RrqException($"Task id '{reply.Detail}' already exists in queue '{QueueId}'; {written}.");
            case -5:
                throw start == 0 ? MissingDependency(reply.Detail)
                    : new RrqException($"Cannot depend on task '{reply.Detail}': it does not exist in queue '{QueueId}' (MISSING, deleted just now); {written}.");
        }
    }

    /// <summary>How many dependency links one script writes at most (a few milliseconds of Redis).</summary>
    internal static int LinksPerScript { get; set; } = 500;

    private RrqException MissingDependency(string? id) =>
        new($"Cannot depend on task '{id}': it does not exist in queue '{QueueId}' (MISSING). Nothing was created.");

    /// <summary>The first of <paramref name="deps"/> that is neither a task nor the tombstone of one that expired.</summary>
    private async Task<string?> FirstMissingAsync(string[] deps, CancellationToken cancellationToken)
    {
        foreach (var page in deps.Chunk(1000))
        {
            var statuses = await Queue.TaskFieldAsync(TaskField.Status, page, cancellationToken)
                .ConfigureAwait(false);
            var absent = page.Where((_, i) => statuses[i] is null).ToArray();
            if (absent.Length > 0)
            {
                var expired = await Queue.TaskFieldAsync(TaskField.Expired, absent, cancellationToken)
                    .ConfigureAwait(false);
                if (absent.Where((_, i) => expired[i] is null).FirstOrDefault() is { } missing)
                {
                    return missing;
                }
            }
        }
        return null;
    }

    /// <summary>Runs task_link.lua over tasks of <paramref name="queue"/> created to be linked later, in order, until
    /// each is linked to all its dependencies (or has become IMPOSSIBLE, or was cancelled meanwhile).</summary>
    internal async Task LinkAsync(string queue, IReadOnlyList<string> ids, CancellationToken cancellationToken)
    {
        for (var done = 0; done < ids.Count;)
        {
            var batch = ids.Skip(done).Take(1000).ToArray();
            var open = await Queue.TaskLinkAsync(queue, batch, LinksPerScript, cancellationToken).ConfigureAwait(false);
            done += batch.Length - (int)open;
        }
    }

    /// <summary>Finishes linking the tasks whose submitting process died on the way (a sweeping worker's job).</summary>
    internal async Task LinkingDrainAsync(CancellationToken cancellationToken)
    {
        var open = await Queue.LinkingIdsAsync(cancellationToken).ConfigureAwait(false);
        if (open.Length == 0)
        {
            return;
        }
        var queues = await Queue.TaskFieldAsync(TaskField.Queue, open, cancellationToken).ConfigureAwait(false);
        foreach (var group in open.Select((id, i) => (Id: id, Queue: (string?)queues[i] ?? RrqKeys.DefaultQueue)).GroupBy(x => x.Queue))
        {
            await LinkAsync(group.Key, [.. group.Select(x => x.Id)], cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Status of one task (MISSING for an unknown id). With <paramref name="follow"/> (default:
    /// the controller's), a retried task reads as the newest task of its chain.</summary>
    public RrqTaskStatus TaskStatus(string taskId, bool? follow = null) =>
        TaskStatusAsync(taskId, follow).GetAwaiter().GetResult();

    /// <summary>Status of each task, in the order given.</summary>
    public IReadOnlyList<RrqTaskStatus> TaskStatus(IEnumerable<string> taskIds, bool? follow = null) =>
        TaskStatusAsync(taskIds, follow).GetAwaiter().GetResult();

    /// <inheritdoc cref="TaskStatus(string, bool?)"/>
    public async Task<RrqTaskStatus> TaskStatusAsync(string taskId, bool? follow = null, CancellationToken cancellationToken = default) =>
        (await TaskStatusAsync([taskId], follow, cancellationToken).ConfigureAwait(false))[0];

    /// <inheritdoc cref="TaskStatus(IEnumerable{string}, bool?)"/>
    public async Task<IReadOnlyList<RrqTaskStatus>> TaskStatusAsync(IEnumerable<string> taskIds, bool? follow = null,
        CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        var ids = ToIdArray(taskIds);
        var (_, statuses) = await ResolveAsync(ids, follow ?? Follow).WaitAsync(cancellationToken).ConfigureAwait(false);
        return statuses;
    }

    /// <summary>True if the task exists (in any status) in this queue.</summary>
    public bool TaskExists(string taskId) => TaskExistsAsync([taskId]).GetAwaiter().GetResult()[0];

    /// <summary>For each id, true if that task exists.</summary>
    public IReadOnlyList<bool> TaskExists(IEnumerable<string> taskIds) => TaskExistsAsync(taskIds).GetAwaiter().GetResult();

    /// <inheritdoc cref="TaskExists(IEnumerable{string})"/>
    public async Task<IReadOnlyList<bool>> TaskExistsAsync(IEnumerable<string> taskIds, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        var ids = ToIdArray(taskIds);
        return await Queue.TasksExistAsync(ids, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Every task id of the queue, in no particular order (retried tasks included).</summary>
    public IReadOnlyList<string> TaskList() => TaskListAsync().GetAwaiter().GetResult();

    /// <inheritdoc cref="TaskList"/>
    public async Task<IReadOnlyList<string>> TaskListAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        return await Queue.TaskIdsAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The expression and locals of a task, as submitted.</summary>
    /// <exception cref="RrqException">No such task.</exception>
    public RrqTaskData TaskData(string taskId) => TaskDataAsync(taskId).GetAwaiter().GetResult();

    /// <inheritdoc cref="TaskData"/>
    public async Task<RrqTaskData> TaskDataAsync(string taskId, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        var root = await RootAsync(taskId).ConfigureAwait(false);
        var raw = await Queue.TaskPayloadAsync(root, cancellationToken).ConfigureAwait(false) ?? throw MissingTask(taskId);
        var payload = await WithSharedAsync(DecodePayload(raw)).ConfigureAwait(false);
        return new RrqTaskData(payload.Expression, DecodeLocals(payload, Values));
    }

    private static void CheckDelay(TimeSpan? delay, bool hasDependencies)
    {
        if (delay is not { } d)
        {
            return;
        }
        if (d <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(delay), d,
                $"A delay must be positive (it was {d}); leave it out to queue the task at once. Nothing was submitted.");
        }
        if (hasDependencies)
        {
            throw new ArgumentException("A task cannot both wait for a delay and depend on other tasks: it runs as soon as " +
                "its dependencies complete. Give the delay to the first task of the chain instead. Nothing was submitted.", nameof(delay));
        }
    }

    private static void CheckTaskTimeout(TimeSpan? timeout, bool separateProcess)
    {
        if (timeout is { } limit)
        {
            if (!separateProcess)
            {
                throw new ArgumentException(
                    "A task timeout needs separateProcess: true (a task running inside the worker cannot be stopped safely).",
                    nameof(timeout));
            }
            if (limit <= TimeSpan.Zero)
            {
                throw new ArgumentOutOfRangeException(nameof(timeout), limit, "A task timeout must be positive.");
            }
        }
    }

    internal static string NewTaskId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    internal RrqException MissingTask(string taskId) =>
        new($"Task '{taskId}' does not exist in queue '{QueueId}' (MISSING): check the id, or whether it was deleted or expired by the queue's retention.");

    private static string[] ToIdArray(IEnumerable<string> taskIds)
    {
        ArgumentNullException.ThrowIfNull(taskIds);
        var ids = taskIds as string[] ?? [.. taskIds];
        foreach (var id in ids)
        {
            ArgumentNullException.ThrowIfNull(id, nameof(taskIds));
        }
        return ids;
    }

    private TaskPayload BuildPayload(string expr, object? locals) => BuildPayload(expr, NamedValues(locals));

    /// <summary>The content hashes of a payload's offloaded locals, space-separated ("" for none).</summary>
    internal static string OffloadedHashes(TaskPayload payload) =>
        string.Join(' ', payload.LocalValues.Select(v => OffloadStore.HashOf(v)).OfType<string>());

#pragma warning disable CA2208 // the name is the public method's argument, not this helper's
    private TaskPayload BuildPayload(string expr, List<KeyValuePair<string, object?>> named)
    {
        var names = new string[named.Count];
        var values = new byte[named.Count][];
        var i = 0;
        foreach (var (name, value) in named)
        {
            if (!IsIdentifier(name))
            {
                throw new ArgumentException(
                    $"Local '{name}' is not a valid C# identifier, so the expression could not refer to it. Use names like 'x' or 'data_1'.",
                    "locals");
            }
            names[i] = name;
            try
            {
                values[i] = Values.Serialize(value);
            }
            catch (RrqValueException e)
            {
                throw new RrqValueException($"Cannot submit local '{name}': {e.Message}", e);
            }
            i++;
        }
        return new TaskPayload { Expression = expr, LocalNames = names, LocalValues = values };
    }
#pragma warning restore CA2208

    internal static IReadOnlyDictionary<string, object?> DecodeLocals(TaskPayload payload, OffloadStore values)
    {
        var locals = new Dictionary<string, object?>(payload.LocalNames.Length, StringComparer.Ordinal);
        for (var i = 0; i < payload.LocalNames.Length; i++)
        {
            locals[payload.LocalNames[i]] = values.Deserialize(payload.LocalValues[i], $"the local '{payload.LocalNames[i]}'");
        }
        return locals;
    }

    private static List<KeyValuePair<string, object?>> NamedValues(object? locals)
    {
        switch (locals)
        {
            case null:
                return [];
            case IEnumerable<KeyValuePair<string, object?>> pairs:
                return [.. pairs];
            case IDictionary dict:
                var list = new List<KeyValuePair<string, object?>>();
                foreach (DictionaryEntry e in dict)
                {
                    list.Add(new(e.Key as string ?? throw new ArgumentException(
                        $"Locals dictionary has a key of type {e.Key.GetType().Name}; keys must be strings (the names).", nameof(locals)), e.Value));
                }
                return list;
        }
        var type = locals.GetType();
        if (type.IsPrimitive || locals is string || locals is IEnumerable)
        {
            throw new ArgumentException(
                $"Locals must be an anonymous object (new {{ x, y }}) or a dictionary of names to values, not a {type.Name}.",
                nameof(locals));
        }
        return type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.GetIndexParameters().Length == 0 && p.CanRead)
            .Select(p => new KeyValuePair<string, object?>(p.Name, p.GetValue(locals)))
            .ToList();
    }

    private static bool IsIdentifier(string name) =>
        name.Length > 0 && (char.IsLetter(name[0]) || name[0] == '_') && name.All(c => char.IsLetterOrDigit(c) || c == '_');
}
