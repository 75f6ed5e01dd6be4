using Rrq.Store;
using Rrq.Tasks;

namespace Rrq.Workers;

/// <summary>The outcome of running a task, as it will be stored: a status and the result bytes
/// (a value or an error object; empty when there is nothing to store).</summary>
internal sealed record TaskOutcome(RrqTaskStatus Status, byte[] Result, string? Message)
{
    /// <summary>What the task raised with RrqTask.Warning and the compiler's warnings, whatever its outcome.</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    public static TaskOutcome Failed(RrqTaskStatus status) => new(status, [], null);
}

/// <summary>Runs one task payload through an evaluator and encodes what it produced. Shared by the
/// worker (in-process tasks) and the child process of separate-process tasks.</summary>
internal static class TaskExecution
{
    /// <summary>Runs a payload as stored (the child process of a separate-process task).</summary>
    public static Task<TaskOutcome> RunAsync(IRrqTaskEvaluator evaluator, RrqTaskContext context, byte[] rawPayload,
        OffloadStore values, CancellationToken cancellationToken)
    {
        Tasks.TaskPayload payload;
        try
        {
            payload = RrqController.DecodePayload(rawPayload);
        }
        catch (MemoryPack.MemoryPackSerializationException e)
        {
            return Task.FromResult(Error(context, new RrqEvaluation
            {
                Message = $"Could not read the task's payload: {e.Message}",
                ExceptionType = e.GetType().FullName,
            }));
        }
        return RunAsync(evaluator, context, payload, values, cancellationToken);
    }

    /// <summary>Runs an already decoded payload (the worker's own process).</summary>
    public static async Task<TaskOutcome> RunAsync(IRrqTaskEvaluator evaluator, RrqTaskContext context, Tasks.TaskPayload payload,
        OffloadStore values, CancellationToken cancellationToken)
    {
        RrqEvaluation evaluation;
        try
        {
            var locals = RrqController.DecodeLocals(payload, values);
            evaluation = await evaluator.EvaluateAsync(context, payload.Expression, locals, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RrqValueException or MemoryPack.MemoryPackSerializationException or RrqException or IOException)
        {
            evaluation = new RrqEvaluation { Message = $"Could not read the task's locals: {e.Message}", ExceptionType = e.GetType().FullName };
        }

        if (evaluation.Success)
        {
            try
            {
                return new TaskOutcome(RrqTaskStatus.Complete, values.Serialize(evaluation.Value), null) { Warnings = [.. evaluation.Warnings] };
            }
            catch (Exception e) when (e is RrqValueException or IOException or UnauthorizedAccessException)
            {
                evaluation = new RrqEvaluation
                {
                    Message = $"The task's value could not be stored: {e.Message}",
                    ExceptionType = typeof(RrqValueException).FullName,
                    Warnings = evaluation.Warnings,
                };
            }
        }
        return Error(context, evaluation);
    }

    public static TaskOutcome Error(RrqTaskContext context, RrqEvaluation e) => new(RrqTaskStatus.Error,
        RrqController.EncodeError(new TaskErrorData
        {
            Message = e.Message ?? "The task failed.",
            Status = RrqTaskStatus.Error.ToRedisString(),
            ExceptionType = e.ExceptionType,
            From = e.From,
            Trace = e.Trace,
            Warnings = [.. e.Warnings],
            QueueId = context.QueueId,
            TaskId = context.TaskId,
        }), e.Message) { Warnings = [.. e.Warnings] };
}
