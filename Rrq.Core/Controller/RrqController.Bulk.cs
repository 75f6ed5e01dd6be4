using System.Collections.Concurrent;
using System.Security.Cryptography;
using MemoryPack;
using Rrq.Keys;
using Rrq.Tasks;

namespace Rrq;

public sealed partial class RrqController
{
    private readonly ConcurrentDictionary<string, TaskPayload> _sharedCache = new(StringComparer.Ordinal);

    /// <summary>
    /// Queues one task per element of <paramref name="data"/>, all running the same expression
    /// (rrq's <c>rrq_task_create_bulk_expr</c>): each element's members become that task's locals.
    /// Values every task needs go in <paramref name="shared"/>: they are stored once, not per task.
    /// A bulk of thousands costs a few round trips. An empty <paramref name="data"/> creates nothing.
    /// </summary>
    /// <param name="expr">The expression, e.g. <c>fit_model(x, y)</c>.</param>
    /// <param name="data">Anonymous objects or dictionaries, all with the same member names.</param>
    /// <param name="shared">Locals common to every task (an anonymous object or a dictionary), or null.</param>
    /// <param name="queue">The queue; null for "default".</param>
    /// <param name="separateProcess">Run each in a child process of its worker.</param>
    /// <param name="timeout">Run-time limit of each (separate processes only).</param>
    /// <param name="dependsOn">Tasks every one of these must wait for.</param>
    /// <exception cref="ArgumentException">Elements have different members (the message names the first
    /// that differs), or a shared name is also an element's member.</exception>
    /// <param name="retry">Retry each automatically when it fails; null for never.</param>
    /// <param name="delay">Run them no sooner than this long after submission (see <see cref="TaskCreateExpr"/>).</param>
    public IReadOnlyList<string> TaskCreateBulkExpr(string expr, IEnumerable<object> data, object? shared = null, string? queue = null,
        bool separateProcess = false, TimeSpan? timeout = null, IEnumerable<string>? dependsOn = null, RrqRetryPolicy? retry = null,
        TimeSpan? delay = null) =>
        TaskCreateBulkExprAsync(expr, data, shared, queue, separateProcess, timeout, dependsOn, retry, delay).GetAwaiter().GetResult();

    /// <inheritdoc cref="TaskCreateBulkExpr"/>
    public Task<IReadOnlyList<string>> TaskCreateBulkExprAsync(string expr, IEnumerable<object> data, object? shared = null,
        string? queue = null, bool separateProcess = false, TimeSpan? timeout = null, IEnumerable<string>? dependsOn = null,
        RrqRetryPolicy? retry = null, TimeSpan? delay = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(expr);
        ArgumentNullException.ThrowIfNull(data);
        var rows = data.Select((row, i) => NamedValues(row ?? throw new ArgumentException($"Element {i} of data is null.", nameof(data)))).ToList();
        return BulkAsync(rows.Select(_ => expr).ToList(), rows, shared, queue, separateProcess, timeout, dependsOn, retry, delay, cancellationToken);
    }

    /// <summary>
    /// Queues one call of <paramref name="function"/> per element of <paramref name="data"/> (rrq's
    /// <c>rrq_task_create_bulk_call</c>). An element that is an anonymous object or a dictionary gives
    /// named arguments (<c>f(a: a, b: b)</c>); any other value is the single argument, a local named
    /// <c>arg</c> (<c>f(arg)</c>). <paramref name="shared"/> values are passed as further named
    /// arguments to every call and stored once. The other options are those of <see cref="TaskCreateBulkExpr"/>.
    /// </summary>
    public IReadOnlyList<string> TaskCreateBulkCall(string function, IEnumerable<object?> data, object? shared = null, string? queue = null,
        bool separateProcess = false, TimeSpan? timeout = null, IEnumerable<string>? dependsOn = null, RrqRetryPolicy? retry = null,
        TimeSpan? delay = null) =>
        TaskCreateBulkCallAsync(function, data, shared, queue, separateProcess, timeout, dependsOn, retry, delay).GetAwaiter().GetResult();

    /// <inheritdoc cref="TaskCreateBulkCall"/>
    public Task<IReadOnlyList<string>> TaskCreateBulkCallAsync(string function, IEnumerable<object?> data, object? shared = null,
        string? queue = null, bool separateProcess = false, TimeSpan? timeout = null, IEnumerable<string>? dependsOn = null,
        RrqRetryPolicy? retry = null, TimeSpan? delay = null, CancellationToken cancellationToken = default)
    {
        CheckFunctionName(function);
        ArgumentNullException.ThrowIfNull(data);
        var sharedNames = NamedValues(shared).Select(p => p.Key).ToArray();
        var rows = new List<List<KeyValuePair<string, object?>>>();
        var exprs = new List<string>();
        foreach (var element in data)
        {
            var named = IsRecordLike(element);
            var (expr, row) = CallOf(function, named ? NamedValues(element) : [new("arg", element)], !named, sharedNames);
            exprs.Add(expr);
            rows.Add(row);
        }
        return BulkAsync(exprs, rows, shared, queue, separateProcess, timeout, dependsOn, retry, delay, cancellationToken);
    }

    /// <summary>
    /// Queues one call of <paramref name="function"/> (rrq's <c>rrq_task_create_call</c>): the members of
    /// <paramref name="args"/> (an anonymous object or a dictionary) are its named arguments and the
    /// task's locals, so <c>TaskCreateCall("Math.Round", new { value = 2.567, digits = 1 })</c> runs
    /// <c>Math.Round(value: value, digits: digits)</c>; any other value is the single argument
    /// (<c>f(arg)</c>), and null calls it with none. The options are those of <see cref="TaskCreateExpr"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The function is not a name such as <c>fit</c> or <c>Stats.Fit</c>.</exception>
    public string TaskCreateCall(string function, object? args = null, string? queue = null, bool separateProcess = false,
        TimeSpan? timeout = null, IEnumerable<string>? dependsOn = null, RrqRetryPolicy? retry = null, TimeSpan? delay = null) =>
        TaskCreateCallAsync(function, args, queue, separateProcess, timeout, dependsOn, retry, delay).GetAwaiter().GetResult();

    /// <inheritdoc cref="TaskCreateCall"/>
    public Task<string> TaskCreateCallAsync(string function, object? args = null, string? queue = null, bool separateProcess = false,
        TimeSpan? timeout = null, IEnumerable<string>? dependsOn = null, RrqRetryPolicy? retry = null, TimeSpan? delay = null,
        CancellationToken cancellationToken = default)
    {
        CheckFunctionName(function);
        var positional = args is not null && !IsRecordLike(args);
        var row = args is null ? [] : positional ? [new("arg", args)] : NamedValues(args);
        var (expr, locals) = CallOf(function, row, positional, []);
        return TaskCreateExprAsync(expr, locals.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal), queue,
            separateProcess, timeout, dependsOn, retry, delay, cancellationToken);
    }

    /// <summary>The expression calling <paramref name="function"/> with <paramref name="row"/> as named
    /// arguments (or its one value as the positional <c>arg</c>) and the shared names after them.</summary>
    private static (string Expr, List<KeyValuePair<string, object?>> Row) CallOf(string function,
        List<KeyValuePair<string, object?>> row, bool positional, string[] sharedNames)
    {
        var args = positional ? ["arg"] : row.Select(p => $"{p.Key}: {p.Key}");
        return ($"{function}({string.Join(", ", args.Concat(sharedNames.Select(n => $"{n}: {n}")))})", row);
    }

    private static readonly System.Text.RegularExpressions.Regex FunctionName =
        new(@"^@?[\p{L}_][\p{L}\p{Nd}_]*(\s*\.\s*@?[\p{L}_][\p{L}\p{Nd}_]*)*(<[\p{L}\p{Nd}_.,<>\[\]?\s]+>)?$",
            System.Text.RegularExpressions.RegexOptions.CultureInvariant);

    private static void CheckFunctionName(string function)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(function);
        if (!FunctionName.IsMatch(function.Trim()))
        {
            throw new ArgumentException($"'{function}' is not a function name (such as fit, Stats.Fit or Convert.ToInt32); " +
                "to run any other code, use TaskCreateExpr. Nothing was submitted.", nameof(function));
        }
    }

    private async Task<IReadOnlyList<string>> BulkAsync(List<string> exprs, List<List<KeyValuePair<string, object?>>> rows,
        object? shared, string? queue, bool separateProcess, TimeSpan? timeout, IEnumerable<string>? dependsOn,
        RrqRetryPolicy? retry, TimeSpan? delay, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        queue ??= RrqKeys.DefaultQueue;
        QueueIdValidation.CheckName(queue, "queue name", nameof(queue));
        CheckTaskTimeout(timeout, separateProcess);
        if (rows.Count == 0)
        {
            return [];
        }
        var names = rows[0].Select(p => p.Key).ToArray();
        for (var i = 1; i < rows.Count; i++)
        {
            var these = rows[i].Select(p => p.Key).ToArray();
            if (!these.Order(StringComparer.Ordinal).SequenceEqual(names.Order(StringComparer.Ordinal), StringComparer.Ordinal))
            {
#pragma warning disable CA2208 // the name is the public method's argument
                throw new ArgumentException(
                    $"Element {i} of data has members ({string.Join(", ", these)}) but element 0 has ({string.Join(", ", names)}); " +
                    "every element must have the same ones. Nothing was submitted.", "data");
#pragma warning restore CA2208
            }
        }
        (string Id, byte[] Bytes, string Offloaded)? sharedBlob = null;
        if (shared is not null)
        {
            var sharedPayload = BuildPayload("", shared);
            var clash = sharedPayload.LocalNames.Intersect(names, StringComparer.Ordinal).ToArray();
            if (clash.Length > 0)
            {
                throw new ArgumentException(
                    $"'{string.Join("', '", clash)}' is both a shared local and a member of each element; rename one. Nothing was submitted.",
                    nameof(shared));
            }
            var bytes = MemoryPackSerializer.Serialize(sharedPayload);
            sharedBlob = (Convert.ToHexStringLower(SHA256.HashData(bytes)), SealPayload("shared", bytes), OffloadedHashes(sharedPayload));
        }
        var payloads = new TaskPayload[rows.Count];
        for (var i = 0; i < rows.Count; i++)
        {
            var p = BuildPayload(exprs[i], rows[i]);
            p.SharedId = sharedBlob?.Id;
            payloads[i] = p;
        }
        return await SubmitAsync(payloads, sharedBlob, queue, separateProcess, timeout, dependsOn, retry, delay, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A payload with its shared locals (if any) merged in, as a worker runs it.</summary>
    internal async Task<TaskPayload> WithSharedAsync(TaskPayload payload)
    {
        if (payload.SharedId is not { } sid)
        {
            return payload;
        }
        if (!_sharedCache.TryGetValue(sid, out var shared))
        {
            var raw = await Queue.SharedLocalsAsync(sid).ConfigureAwait(false)
                ?? throw new RrqValueException($"The shared locals '{sid}' of this task are gone from Redis (deleted with their last task?).");
            shared = DecodePayload(raw, SigningKeys, QueueId, $"The shared locals '{sid}' of this task");
            if (_sharedCache.Count > 32)
            {
                _sharedCache.Clear();
            }
            _sharedCache[sid] = shared;
        }
        return new TaskPayload
        {
            Expression = payload.Expression,
            LocalNames = [.. payload.LocalNames, .. shared.LocalNames],
            LocalValues = [.. payload.LocalValues, .. shared.LocalValues],
            TraceParent = payload.TraceParent,
            TraceState = payload.TraceState,
            SubmittedAt = payload.SubmittedAt,
        };
    }

    private static bool IsRecordLike(object? value) => value is System.Collections.IDictionary
        || value is IEnumerable<KeyValuePair<string, object?>>
        || value is not null && value.GetType().Name.Contains("AnonymousType", StringComparison.Ordinal);
}
