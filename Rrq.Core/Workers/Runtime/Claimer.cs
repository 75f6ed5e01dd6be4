using Microsoft.Extensions.Logging;
using Rrq.Scripts;

namespace Rrq.Workers;

/// <summary>
/// Finds a slot's next step, in this order: the one taken with its last task's outcome; a task another slot's claim
/// took for it; a task handed to the worker at submission, once taken up; else a claim of its own (worker_claim.lua).
/// The rules each follows (tokens, reservations) are <see cref="ClaimBook"/>'s.
/// </summary>
internal sealed class Claimer(RrqController controller, string workerId, RrqWorkerConfig config, ClaimBook claims, WorkerInbox inbox,
    ILogger chatty)
{
    /// <summary>The slot's next step and the token it runs under; null when there is none to take (another slot's claim
    /// in flight takes a task for this one).</summary>
    public async Task<(ClaimReply? Reply, string Token)> NextAsync(WorkerSlot slot)
    {
        var reply = Interlocked.Exchange(ref slot.Next, null);
        var token = slot.NextToken;
        if (reply is null && !claims.Handed.IsEmpty)
        {
            claims.SetActive(slot, true);   // counted busy before the handed task leaves the queue, so no claim takes one for it
            if (claims.Handed.TryDequeue(out var handed))
            {
                (reply, token) = handed;   // taken by another slot's claim for this one
            }
            else
            {
                claims.SetActive(slot, false);
            }
        }
        if (reply is null && inbox.TryTakeHandoff(out var handoff))
        {
            // Handed over at submission: it becomes RUNNING here once taken up under a token of this worker's. (This costs
            // no time: a task's outcome is recorded after its take-up in any case.)
            token = claims.NewToken();
            claims.SetActive(slot, true);
            if (await controller.Queue.TaskAckAsync(handoff.TaskId, workerId, token, config.EffectiveQueues).ConfigureAwait(false) is { } separateNext)
            {
                reply = handoff.Reply with { Task = handoff.Reply.Task! with { SeparateNext = separateNext } };
            }
            else
            {
                // Cancelled, deleted or taken by a claim meanwhile: it does not run here. The worker looks for work at
                // once (its claim also clears what it held, and lets it be handed tasks again).
                claims.Forget(token);
                claims.SetActive(slot, false);
                Logging.RrqLog.HandoffGone(chatty, handoff.TaskId);
            }
        }
        if (reply is null)
        {
            // A claim repeated after a lost reply carries the same token, and so gets the same answer.
            var (argument, reserved) = claims.SlotsArgument(slot);
            if (argument is null)
            {
                return (null, token);
            }
            token = claims.NewToken();
            try
            {
                reply = await controller.Queue.ClaimAsync(workerId, config.EffectiveQueues, token, argument).ConfigureAwait(false);
                if (reply.Kind == ClaimKind.Task)
                {
                    claims.SetActive(slot, true);
                }
                else
                {
                    claims.Forget(token);
                }
                reply = claims.KeepFirst(reply, token, inbox.Wake);
            }
            finally
            {
                claims.Unreserve(reserved);
            }
        }
        return (reply, token);
    }
}
