namespace Rrq;

/// <summary>How <see cref="RrqController.WorkerStop"/> stops workers.</summary>
public enum RrqWorkerStopType
{
    /// <summary>Send STOP: an idle worker exits at once, a busy one after its current task.</summary>
    Message,
    /// <summary>Kill the process now (workers on this machine only); its running task becomes DIED
    /// and the worker EXITED.</summary>
    Kill,
}
