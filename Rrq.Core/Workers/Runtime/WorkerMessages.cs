using System.Text.Json;
using Microsoft.Extensions.Logging;
using Rrq.Store;

namespace Rrq.Workers;

/// <summary>
/// A worker's answers to messages (rrq's <c>rrq_message_send</c>): PING, ECHO, EVAL, INFO, PAUSE, RESUME, REFRESH,
/// TIMEOUT_SET, TIMEOUT_GET and STOP. A signed queue's worker runs only messages signed for it, and answers the others
/// saying so. The answer is stored (worker_respond.lua); a STOP is answered first, and leaving is the worker's to do.
/// </summary>
internal sealed class WorkerMessages(RrqController controller, IRrqTaskEvaluator evaluator, string id, WorkerRecord record,
    WorkerEnvironment envir, IdleClock idle, Func<RrqWorkerInfo> describe, ILogger log, ILogger chatty)
{

    /// <summary>Opens, runs and answers one message; with the reason to leave when it was a STOP.</summary>
    public async Task<(RrqWorkerStep Step, string? StopReason)> HandleAsync(string raw)
    {
        WorkerMessage? message;
        string? refused = null;
        if (controller.SigningKeys is { } keys)
        {
            try
            {
                raw = keys.Open("message", controller.QueueId, raw, "This message");
            }
            catch (RrqSignatureException e)
            {
                refused = e.Message;   // answered with this, and not run; its id is read from the unsigned text to answer
                raw = RrqSigningKeys.Strip(raw);
            }
        }
        else
        {
            raw = RrqSigningKeys.Strip(raw);
        }
        try
        {
            message = JsonSerializer.Deserialize<WorkerMessage>(raw, RrqController.JsonOptions);
        }
        catch (JsonException)
        {
            message = null;
        }
        if (message is null)
        {
            await record.LogAsync("MESSAGE", "ERROR unreadable message").ConfigureAwait(false);
            return (new RrqWorkerStep(RrqWorkerStepKind.Message, Detail: "unreadable"), null);
        }
        await record.LogAsync("MESSAGE", refused is null ? message.Command : $"ERROR {message.Command} refused: not signed by the queue's key").ConfigureAwait(false);
        var (result, error, stop) = refused is null ? await RunAsync(message).ConfigureAwait(false) : (null, refused, false);
        byte[]? bytes = null;
        if (error is null)
        {
            try
            {
                bytes = controller.Values.Serialize(result);   // a large answer goes to the offload directory, if any
            }
            catch (Exception e) when (e is RrqValueException or IOException or UnauthorizedAccessException)
            {
                error = $"The answer to {message.Command} could not be stored: {e.Message}";
            }
        }
        await controller.Queue.WorkerRespondAsync(id, message.Id, message.Command,
            MemoryPack.MemoryPackSerializer.Serialize(new WorkerResponseData(message.Id, message.Command, bytes, error)),
            bytes is null ? "" : OffloadStore.HashOf(bytes) ?? "").ConfigureAwait(false);
        if (stop)
        {
            return (new RrqWorkerStep(RrqWorkerStepKind.Stopped, Detail: "STOP"), $"OK ({message.Args ?? "BYE"})");
        }
        if (message.Command != "TIMEOUT_GET")
        {
            idle.Touch();   // any message but TIMEOUT_GET counts as activity, as in rrq
        }
        return (new RrqWorkerStep(RrqWorkerStepKind.Message, Detail: message.Command), null);
    }

    /// <summary>Carries out one message: its result, or an error message, and whether to stop after answering.</summary>
    private async Task<(object? Result, string? Error, bool Stop)> RunAsync(WorkerMessage message)
    {
        switch (message.Command)
        {
            case "PING":
                Logging.RrqLog.Pong(chatty);
                return ("PONG", null, false);
            case "ECHO":
                Logging.RrqLog.Echo(chatty, message.Args ?? "");
                return ("OK", null, false);
            case "STOP":
                return ("BYE", null, true);
            case "EVAL":
                if (string.IsNullOrWhiteSpace(message.Args))
                {
                    return (null, "EVAL needs a C# expression as its argument.", false);
                }
                var evaluation = await evaluator.EvaluateAsync(new RrqTaskContext(controller.QueueId, "message:" + message.Id, id),
                    message.Args, new Dictionary<string, object?>(), CancellationToken.None).ConfigureAwait(false);
                Logging.RrqLog.Eval(chatty, message.Args, evaluation.Success ? evaluation.Value?.ToString() : "error: " + evaluation.Message);
                return evaluation.Success ? (evaluation.Value, null, false)
                    : (null, $"{evaluation.ExceptionType}: {evaluation.Message}".TrimStart(':', ' '), false);
            case "INFO":
                var info = describe();
                await record.NoteFieldAsync(controller.Keys.WorkerInfo, id, JsonSerializer.Serialize(info, RrqController.JsonOptions)).ConfigureAwait(false);
                return (info, null, false);
            case "PAUSE" or "RESUME":
                var changed = await controller.Queue.WorkerPauseAsync(id, message.Command).ConfigureAwait(false);
                Logging.RrqLog.PauseResume(chatty, message.Command, changed ?? "");
                return changed == "GONE" ? (null, "This worker is no longer registered in the queue.", false) : (changed, null, false);
            case "REFRESH":
                var failed = await envir.LoadAsync().ConfigureAwait(false);
                return failed is null ? ("OK", null, false) : (null, "The environment did not load: " + failed, false);
            case "TIMEOUT_SET":
                if (message.Args is null)
                {
                    idle.Timeout = null;
                }
                else if (double.TryParse(message.Args, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture,
                    out var seconds) && seconds >= 0 && seconds < TimeSpan.MaxValue.TotalSeconds)
                {
                    idle.Timeout = TimeSpan.FromSeconds(seconds);
                }
                else
                {
                    return ("INVALID", null, false);
                }
                idle.Touch();
                return ("OK", null, false);
            case "TIMEOUT_GET":
                return (new RrqIdleTimeout(idle.Timeout, idle.Remaining), null, false);
            default:
                Logging.RrqLog.UnknownMessage(log, message.Command);
                return (null, $"Unknown message '{message.Command}'. Workers answer PING, ECHO, EVAL, INFO, PAUSE, RESUME, " +
                    "REFRESH, TIMEOUT_SET, TIMEOUT_GET and STOP.", false);
        }
    }
}
