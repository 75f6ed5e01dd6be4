namespace Rrq;

/// <summary>A worker's answer to a message (rrq's message responses).</summary>
/// <param name="WorkerId">The worker that answered.</param>
/// <param name="MessageId">The message answered: the id <see cref="RrqController.MessageSend(string, object?, IEnumerable{string}?)"/> returned.</param>
/// <param name="Command">The command, e.g. <c>PING</c>.</param>
/// <param name="Result">What the command gives: <c>"PONG"</c> for PING, the value for EVAL, an
/// <see cref="RrqWorkerInfo"/> for INFO, an <see cref="RrqIdleTimeout"/> for TIMEOUT_GET, <c>"OK"</c>,
/// <c>"NOOP"</c>, <c>"BYE"</c> or <c>"INVALID"</c> for the others; null when <see cref="Error"/> is set.</param>
/// <param name="Error">Why the command failed (an unknown command, an EVAL expression that does not
/// compile or throws); null when it succeeded. The worker lives on either way.</param>
public sealed record RrqMessageResponse(string WorkerId, string MessageId, string Command, object? Result, string? Error)
{
    /// <summary>True when the command succeeded.</summary>
    public bool Success => Error is null;
}

/// <summary>A worker's idle timeout, as the TIMEOUT_GET message reports it.</summary>
/// <param name="Limit">How long the worker may be idle before it exits; null for no limit.</param>
/// <param name="Remaining">How much of that is left now; null for no limit.</param>
public sealed record RrqIdleTimeout(TimeSpan? Limit, TimeSpan? Remaining);
