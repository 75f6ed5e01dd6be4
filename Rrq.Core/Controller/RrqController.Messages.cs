using System.Globalization;
using System.Text.Json;
using MemoryPack;
using Rrq.Controller;
using Rrq.Scripts;
using Rrq.Store;
using Rrq.Workers;
using StackExchange.Redis;

namespace Rrq;

public sealed partial class RrqController
{
    /// <summary>
    /// Sends a command to workers (default: every live worker) and returns the message id at once
    /// (rrq's <c>rrq_message_send</c>). A worker answers between tasks, before taking its next one;
    /// read the answers with <see cref="MessageGetResponse"/>. Commands: PING, ECHO (args: text),
    /// EVAL (args: a C# expression, run in the worker's environment), INFO, PAUSE, RESUME, REFRESH
    /// (reload the environment), TIMEOUT_SET (args: a <see cref="TimeSpan"/> or seconds; null for no
    /// limit), TIMEOUT_GET, STOP (args: a reason). See docs/messages.md.
    /// </summary>
    /// <param name="command">The command, e.g. "PING".</param>
    /// <param name="args">Its argument: a string, a number, a <see cref="TimeSpan"/>, or null.</param>
    /// <param name="workerIds">The workers; null for every live worker.</param>
    /// <exception cref="RrqException">A worker named is not a live worker of this queue (nothing is sent).</exception>
    public string MessageSend(string command, object? args = null, IEnumerable<string>? workerIds = null) =>
        MessageSendAsync(command, args, workerIds).GetAwaiter().GetResult();

    /// <inheritdoc cref="MessageSend"/>
    public async Task<string> MessageSendAsync(string command, object? args = null, IEnumerable<string>? workerIds = null,
        CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ArgumentException.ThrowIfNullOrWhiteSpace(command);
        var ids = await TargetsAsync(workerIds, cancellationToken).ConfigureAwait(false);
        var (id, gone) = await SendAsync(command.Trim().ToUpperInvariant(), ArgsText(args), ids).ConfigureAwait(false);
        if (gone is not null)
        {
            throw new RrqException($"Cannot send {command} to worker '{gone}': it is not a live worker of queue '{QueueId}' " +
                $"(live workers: {LiveList(await WorkerListAsync(cancellationToken).ConfigureAwait(false))}). Nothing was sent.");
        }
        return id;
    }

    /// <summary>Whether each worker (default: every live worker) has answered the message (rrq's <c>rrq_message_has_response</c>).</summary>
    public IReadOnlyDictionary<string, bool> MessageHasResponse(string messageId, IEnumerable<string>? workerIds = null) =>
        MessageHasResponseAsync(messageId, workerIds).GetAwaiter().GetResult();

    /// <inheritdoc cref="MessageHasResponse"/>
    public async Task<IReadOnlyDictionary<string, bool>> MessageHasResponseAsync(string messageId, IEnumerable<string>? workerIds = null,
        CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ArgumentException.ThrowIfNullOrWhiteSpace(messageId);
        var ids = await TargetsAsync(workerIds, cancellationToken).ConfigureAwait(false);
        var raw = await Queue.ResponsesAsync(messageId, ids).WaitAsync(cancellationToken).ConfigureAwait(false);
        return ids.Select((w, i) => (w, i)).ToDictionary(p => p.w, p => !raw[p.i].IsNull, StringComparer.Ordinal);
    }

    /// <summary>The ids of the messages a worker has answered (and whose answers were not deleted),
    /// oldest first (rrq's <c>rrq_message_response_ids</c>).</summary>
    public IReadOnlyList<string> MessageResponseIds(string workerId) => MessageResponseIdsAsync(workerId).GetAwaiter().GetResult();

    /// <inheritdoc cref="MessageResponseIds"/>
    public async Task<IReadOnlyList<string>> MessageResponseIdsAsync(string workerId, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ArgumentException.ThrowIfNullOrWhiteSpace(workerId);
        var ids = await Queue.ResponseIdsAsync(workerId, cancellationToken).ConfigureAwait(false);
        return ids.Order(StringComparer.Ordinal).ToArray();
    }

    /// <summary>
    /// The workers' answers to a message (rrq's <c>rrq_message_get_response</c>), by worker id, waiting
    /// up to <paramref name="timeout"/> (default: look once) for all of them.
    /// </summary>
    /// <param name="messageId">The id <see cref="MessageSend"/> returned.</param>
    /// <param name="workerIds">The workers; null for every live worker.</param>
    /// <param name="delete">Delete the answers once read.</param>
    /// <param name="timeout">How long to wait for every answer; null or zero looks once.</param>
    /// <param name="progress">Draw a progress bar on standard error (default: when it is a terminal).</param>
    /// <exception cref="RrqException">Some worker has not answered in time; the message names them and their status.</exception>
    public IReadOnlyDictionary<string, RrqMessageResponse> MessageGetResponse(string messageId, IEnumerable<string>? workerIds = null,
        bool delete = false, TimeSpan? timeout = null, bool? progress = null) =>
        MessageGetResponseAsync(messageId, workerIds, delete, timeout, progress).GetAwaiter().GetResult();

    /// <inheritdoc cref="MessageGetResponse"/>
    public async Task<IReadOnlyDictionary<string, RrqMessageResponse>> MessageGetResponseAsync(string messageId,
        IEnumerable<string>? workerIds = null, bool delete = false, TimeSpan? timeout = null, bool? progress = null,
        CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ArgumentException.ThrowIfNullOrWhiteSpace(messageId);
        CheckTimeout(timeout, nameof(timeout));
        var ids = await TargetsAsync(workerIds, cancellationToken).ConfigureAwait(false);
        return await CollectAsync(messageId, ids, delete, timeout ?? TimeSpan.Zero, progress, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Sends a command and waits for every worker's answer (rrq's <c>rrq_message_send_and_wait</c>);
    /// the answers are deleted once read unless <paramref name="delete"/> is false.
    /// </summary>
    /// <param name="command">The command (see <see cref="MessageSend"/>).</param>
    /// <param name="args">Its argument.</param>
    /// <param name="workerIds">The workers; null for every live worker.</param>
    /// <param name="delete">Delete the answers once read (default true).</param>
    /// <param name="timeout">How long to wait (default 10 minutes: a busy worker answers after its task).</param>
    /// <param name="progress">Draw a progress bar on standard error (default: when it is a terminal).</param>
    /// <exception cref="RrqException">A worker is unknown (nothing sent), or did not answer in time.</exception>
    public IReadOnlyDictionary<string, RrqMessageResponse> MessageSendAndWait(string command, object? args = null,
        IEnumerable<string>? workerIds = null, bool delete = true, TimeSpan? timeout = null, bool? progress = null) =>
        MessageSendAndWaitAsync(command, args, workerIds, delete, timeout, progress).GetAwaiter().GetResult();

    /// <inheritdoc cref="MessageSendAndWait"/>
    public async Task<IReadOnlyDictionary<string, RrqMessageResponse>> MessageSendAndWaitAsync(string command, object? args = null,
        IEnumerable<string>? workerIds = null, bool delete = true, TimeSpan? timeout = null, bool? progress = null,
        CancellationToken cancellationToken = default)
    {
        CheckTimeout(timeout, nameof(timeout));
        var ids = await TargetsAsync(workerIds, cancellationToken).ConfigureAwait(false);
        var id = await MessageSendAsync(command, args, ids, cancellationToken).ConfigureAwait(false);
        return await CollectAsync(id, ids, delete, timeout ?? TimeSpan.FromMinutes(10), progress, cancellationToken).ConfigureAwait(false);
    }

    private async Task<string[]> TargetsAsync(IEnumerable<string>? workerIds, CancellationToken cancellationToken) =>
        workerIds?.Distinct(StringComparer.Ordinal).ToArray() ?? [.. await WorkerListAsync(cancellationToken).ConfigureAwait(false)];

    private static string LiveList(IReadOnlyList<string> live) => live.Count == 0 ? "none" : string.Join(", ", live);

    private static string? ArgsText(object? args) => args switch
    {
        null => null,
        string s => s,
        TimeSpan t => t.TotalSeconds.ToString("R", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => throw new ArgumentException($"A message argument must be a string, a number or a TimeSpan, not {args.GetType()}.", nameof(args)),
    };

    /// <summary>Sends one message to the given workers in one step; returns its id, or the first
    /// worker that is not registered (then nothing was sent).</summary>
    private async Task<(string Id, string? Gone)> SendAsync(string command, string? args, string[] workerIds)
    {
        var (seconds, micros) = await Queue.ServerClockAsync().ConfigureAwait(false);
        // Sortable by time as text; the suffix keeps two sends in one microsecond apart.
        var id = FormattableString.Invariant($"{seconds}.{micros:D6}.{Random.Shared.Next(0x10000):x4}");
        if (workerIds.Length == 0)
        {
            return (id, null);
        }
        var message = SealText("message", JsonSerializer.Serialize(new WorkerMessage(id, command, args), JsonOptions));
        return (id, await Queue.MessageSendAsync(message, workerIds).ConfigureAwait(false));
    }

    private async Task<IReadOnlyDictionary<string, RrqMessageResponse>> CollectAsync(string messageId, string[] workerIds, bool delete,
        TimeSpan timeout, bool? progress, CancellationToken cancellationToken)
    {
        var found = new Dictionary<string, RrqMessageResponse>(StringComparer.Ordinal);
        using var wake = new SemaphoreSlim(0);
        var sub = Redis.GetSubscriber();
        // Listen before reading, so an answer stored in between still wakes this wait.
        var queue = timeout > TimeSpan.Zero ? await sub.SubscribeAsync(Keys.ResponseChannel).ConfigureAwait(false) : null;
        queue?.OnMessage(_ =>
        {
            try
            {
                wake.Release();
            }
            catch (ObjectDisposedException)
            {
                // An answer that arrived as this wait ended.
            }
        });
        using var bar = timeout > TimeSpan.Zero ? ProgressBar.Create(progress, workerIds.Length, "answered") : null;
        try
        {
            var deadline = Time.GetUtcNow() + timeout;
            while (true)
            {
                var waiting = workerIds.Where(w => !found.ContainsKey(w)).ToArray();
                var raw = await Queue.ResponsesAsync(messageId, waiting).WaitAsync(cancellationToken).ConfigureAwait(false);
                for (var i = 0; i < waiting.Length; i++)
                {
                    if (!raw[i].IsNull)
                    {
                        found[waiting[i]] = DecodeResponse(waiting[i], (byte[])raw[i]!);
                    }
                }
                bar?.Report(found.Count);
                var left = deadline - Time.GetUtcNow();
                if (found.Count == workerIds.Length || left <= TimeSpan.Zero)
                {
                    break;
                }
                // Woken by any worker's answer; the one-second bound covers a missed publication.
                await wake.WaitAsync(left < TimeSpan.FromSeconds(1) ? left : TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            bar?.Report(found.Count, force: true);
            if (queue is not null)
            {
                await queue.UnsubscribeAsync().ConfigureAwait(false);
            }
        }
        var missing = workerIds.Where(w => !found.ContainsKey(w)).ToArray();
        if (missing.Length > 0)
        {
            var statuses = await Queue.WorkerStatusFieldsAsync(missing, cancellationToken).ConfigureAwait(false);
            var described = missing.Select((m, i) => $"'{m}' ({(statuses[i] ?? "unknown worker")})");
            throw new RrqException(
                $"Response missing for worker{(missing.Length > 1 ? "s" : "")} {string.Join(", ", described)} to message {messageId} " +
                $"after {timeout.TotalSeconds:0.###} s. A busy worker answers after its current task; an EXITED or LOST one never will. " +
                "Wait longer with a timeout, or read what has arrived with MessageHasResponse.");
        }
        if (delete)
        {
            DeleteFreedValues(await Queue.ResponseDeleteAsync(messageId, workerIds, cancellationToken).ConfigureAwait(false),
                "Deleted answers to a message");
        }
        return workerIds.ToDictionary(w => w, w => found[w], StringComparer.Ordinal);
    }

    private RrqMessageResponse DecodeResponse(string workerId, byte[] bytes)
    {
        WorkerResponseData? data;
        try
        {
            data = MemoryPackSerializer.Deserialize<WorkerResponseData>(bytes);
        }
        catch (MemoryPackSerializationException e)
        {
            throw new RrqException($"The stored response of worker '{workerId}' cannot be read ({e.Message}): it was damaged, " +
                "or written by something other than Rrq. Send the message again.", e);
        }
        if (data is null)
        {
            throw new RrqException($"Worker '{workerId}' stored an unreadable response.");
        }
        return new RrqMessageResponse(workerId, data.Id, data.Command,
            data.Result is null ? null : Values.Deserialize(data.Result, $"the answer of worker '{workerId}' to message {data.Id}"), data.Error);
    }
}
