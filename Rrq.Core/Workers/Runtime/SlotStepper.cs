using Rrq.Scripts;

namespace Rrq.Workers;

/// <summary>What one step of a slot came to, for the worker to act on.</summary>
/// <param name="Step">What the step did.</param>
/// <param name="StopReason">A STOP message's reason: the worker is to leave.</param>
/// <param name="Unregistered">The worker is no longer registered (stopped, or its queue destroyed): it is to stop.</param>
internal readonly record struct SlotStepResult(RrqWorkerStep Step, string? StopReason = null, bool Unregistered = false);

/// <summary>
/// One step of one slot, top to bottom: find its next step (<see cref="Claimer"/>); if the worker is not registered, rejoin
/// or wait for the queue (<see cref="WorkerRegistration"/>); load a newer environment; then answer the message, run the
/// task (<see cref="TaskRunner"/>) or, idle, do the worker's upkeep and note when the next delayed task comes due.
/// </summary>
internal sealed class SlotStepper(Claimer claimer, WorkerRegistration registration, WorkerInbox inbox, WorkerEnvironment envir,
    WorkerMessages messages, TaskRunner runner, ClaimBook claims, IdleClock idle, WorkerUpkeep upkeep)
{
    /// <param name="slot">The slot stepping.</param>
    /// <param name="stopping">Whether the worker is stopping (then a worker found unregistered does not rejoin).</param>
    /// <param name="claimNext">Asked once a task has run, with the count of tasks run: whether the slot's next step is
    /// claimed as its outcome is recorded.</param>
    public async Task<SlotStepResult> StepAsync(WorkerSlot slot, bool stopping, Func<int, bool> claimNext)
    {
        slot.FinishFoundNothing = false;
        var result = await StepOnceAsync(slot, stopping, claimNext).ConfigureAwait(false);
        // Found nothing to do, by its claim or by the claim made with its task's outcome: its next step waits to be woken.
        slot.LastClaimIdle = result.Step.Kind == RrqWorkerStepKind.Idle || (result.Step.Kind == RrqWorkerStepKind.Task && slot.FinishFoundNothing);
        return result;
    }

    private async Task<SlotStepResult> StepOnceAsync(WorkerSlot slot, bool stopping, Func<int, bool> claimNext)
    {
        var (reply, token) = await claimer.NextAsync(slot).ConfigureAwait(false);
        if (reply is null)
        {
            return new(new RrqWorkerStep(RrqWorkerStepKind.Idle, Detail: "another slot claims for it"));
        }
        if (reply.Kind == ClaimKind.NotRegistered)
        {
            return (stopping ? Unregistered.Gone : await registration.NotRegisteredAsync(inbox).ConfigureAwait(false)) switch
            {
                Unregistered.Rejoined => new(new RrqWorkerStep(RrqWorkerStepKind.Idle, Detail: "rejoined")),
                Unregistered.QueueAbsent => new(new RrqWorkerStep(RrqWorkerStepKind.Idle, Detail: "queue data missing")),
                _ => new(new RrqWorkerStep(RrqWorkerStepKind.Stopped, Detail: "not registered"), Unregistered: true),
            };
        }
        registration.Registered();
        if (envir.IsNew(reply.EnvirVersion))
        {
            await envir.LoadAsync(reply.EnvirVersion).ConfigureAwait(false);
        }
        switch (reply.Kind)
        {
            case ClaimKind.Message:
                var (step, stop) = await messages.HandleAsync(reply.Message!).ConfigureAwait(false);
                return new(step, stop);
            case ClaimKind.Task:
                slot.TaskToken = token;
                claims.SetActive(slot, true);
                var task = reply.Task!;
                var status = await runner.RunAsync(slot, task, claimNext).ConfigureAwait(false);
                idle.Touch();
                if (slot.Next is null)
                {
                    claims.SetActive(slot, false);
                }
                return new(new RrqWorkerStep(RrqWorkerStepKind.Task, task.Id, status));
            default:
                upkeep.Idle(claims.Active, runner.TasksRun);
                inbox.NextDue = reply.NextDue;
                return new(new RrqWorkerStep(RrqWorkerStepKind.Idle));
        }
    }
}
