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
    /// <summary>Runs a decoded payload in the worker's own process.</summary>
    public static Task<TaskOutcome> RunAsync(IRrqTaskEvaluator evaluator, RrqTaskContext context, Tasks.TaskPayload payload,
        OffloadStore values, CancellationToken cancellationToken) =>
        RunAsync(locals => evaluator.EvaluateAsync(context, payload.Expression, locals, cancellationToken), context, payload, values);

    /// <summary>The task's locals, or the ERROR outcome of a task whose locals cannot be read.</summary>
    public static (IReadOnlyDictionary<string, object?>? Locals, TaskOutcome? Failure) DecodeLocals(RrqTaskContext context,
        Tasks.TaskPayload payload, OffloadStore values)
    {
        try
        {
            return (RrqController.DecodeLocals(payload, values), null);
        }
        catch (Exception e) when (e is not OperationCanceledException and not OutOfMemoryException)
        {
            // A corrupt value (a bad length prefix, an unknown tag) must not take the worker down: whatever the
            // codec throws on bytes it cannot read is this task's error.
            return (null, Error(context, new RrqEvaluation
            {
                Message = $"Could not read the task's locals ({context.TaskId}): {e.Message}",
                ExceptionType = e.GetType().FullName,
            }));
        }
    }

    /// <summary>Decodes the locals, runs <paramref name="evaluate"/> with them, and encodes what it produced.</summary>
    public static async Task<TaskOutcome> RunAsync(Func<IReadOnlyDictionary<string, object?>, Task<RrqEvaluation>> evaluate,
        RrqTaskContext context, Tasks.TaskPayload payload, OffloadStore values)
    {
        var (locals, failure) = DecodeLocals(context, payload, values);
        if (failure is not null)
        {
            return failure;
        }
        var evaluation = await evaluate(locals!).ConfigureAwait(false);

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

    /// <summary>The outcome a child process reported, as it will be stored: a plain value is encoded here.</summary>
    public static TaskOutcome FromChild(RrqTaskContext context, ChildOutcome reported, OffloadStore values)
    {
        if (!reported.Success)
        {
            return Error(context, reported.Failure! with { Warnings = reported.Warnings });
        }
        try
        {
            return new TaskOutcome(RrqTaskStatus.Complete, reported.Stored ?? values.Serialize(reported.Plain), null) { Warnings = reported.Warnings };
        }
        catch (Exception e) when (e is RrqValueException or IOException or UnauthorizedAccessException)
        {
            return Error(context, new RrqEvaluation
            {
                Message = $"The task's value could not be stored: {e.Message}",
                ExceptionType = typeof(RrqValueException).FullName,
                Warnings = reported.Warnings,
            });
        }
    }

    /// <summary>A task that ended without an error of its own (DIED, ...), with why, stored as its error object.</summary>
    public static TaskOutcome NotSuccessful(RrqTaskContext context, RrqTaskStatus status, string reason)
    {
        var error = RrqTaskError.NotSuccessful(context.QueueId, context.TaskId, status, reason);
        return new(status, RrqController.EncodeError(new TaskErrorData
        {
            Message = error.Message,
            Status = status.ToRedisString(),
            QueueId = context.QueueId,
            TaskId = context.TaskId,
        }), reason);
    }

    /// <summary>The ERROR outcome of a task whose stored payload cannot be read.</summary>
    public static TaskOutcome UnreadablePayload(RrqTaskContext context, RrqValueException e) => Error(context, new RrqEvaluation
    {
        Message = $"The stored payload of task {context.TaskId} cannot be read: {e.Message}. It was damaged or written by " +
            "something other than Rrq; submit the task again.",
        ExceptionType = e.GetType().FullName,
    });

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
