namespace Rrq;

/// <summary>A payload (task, shared locals, worker environment or message) is not signed by the queue's key: it was not
/// run. See <see cref="RrqSigningKeys"/>.</summary>
public sealed class RrqSignatureException : RrqException
{
    /// <summary>Creates the exception.</summary>
    public RrqSignatureException(string message) : base(message) { }

    /// <summary>Creates the exception.</summary>
    public RrqSignatureException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Creates an exception with no message.</summary>
    public RrqSignatureException() { }
}
