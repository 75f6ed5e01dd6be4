using Microsoft.AspNetCore.Http;

namespace Rrq.Dashboard;

/// <summary>The dashboard's actions, each one call of the controller's API; an id or a state the action does not fit is
/// answered with what was wrong, and nothing is changed.</summary>
internal static class DashboardActions
{
    public static async Task<ActionOutcome> TaskAsync(RrqController obj, string prefix, string id, string action)
    {
        try
        {
            switch (action)
            {
                case "retry":
                    var next = (await obj.TaskRetryAsync([id])).Single();
                    return new ActionOutcome(StatusCodes.Status200OK, $"Task {id} was retried as {next}.", $"{prefix}/task/{Uri.EscapeDataString(next)}");
                case "cancel":
                    if (await obj.TaskCancelAsync(id, wait: true, timeout: TimeSpan.FromSeconds(10)))
                    {
                        return new ActionOutcome(StatusCodes.Status200OK, $"Task {id} was cancelled.");
                    }
                    var status = await obj.TaskStatusAsync(id, follow: false);
                    return status == RrqTaskStatus.Missing
                        ? new ActionOutcome(StatusCodes.Status404NotFound, $"No task '{id}' in queue '{obj.QueueId}'.")
                        : new ActionOutcome(StatusCodes.Status409Conflict, $"Task {id} is not cancelable ({status.ToRedisString()}): nothing was changed.");
                case "delete":
                    await obj.TaskDeleteAsync([id]);
                    return new ActionOutcome(StatusCodes.Status200OK, $"Task {id} was deleted.", $"{prefix}/");
                default:
                    return new ActionOutcome(StatusCodes.Status404NotFound, $"'{action}' is not an action on a task (retry, cancel, delete).");
            }
        }
        catch (RrqException e)
        {
            return new ActionOutcome(StatusCodes.Status409Conflict, e.Message);
        }
    }

    public static async Task<ActionOutcome> WorkerAsync(RrqController obj, string prefix, string id, string action)
    {
        try
        {
            if (!await obj.WorkerExistsAsync(id))
            {
                return new ActionOutcome(StatusCodes.Status404NotFound, $"No live worker '{id}' in queue '{obj.QueueId}': it has stopped, or never started.");
            }
            switch (action)
            {
                case "stop":
                    await obj.WorkerStopAsync([id], RrqWorkerStopType.Message);
                    return new ActionOutcome(StatusCodes.Status200OK, $"Worker {id} was asked to stop (after its current task).");
                case "kill":
                    await obj.WorkerStopAsync([id], RrqWorkerStopType.Kill);
                    return new ActionOutcome(StatusCodes.Status200OK, $"Worker {id} was killed; its running tasks DIED.");
                default:
                    return new ActionOutcome(StatusCodes.Status404NotFound, $"'{action}' is not an action on a worker (stop, kill).");
            }
        }
        catch (RrqException e)
        {
            return new ActionOutcome(StatusCodes.Status409Conflict, e.Message);
        }
    }
}
