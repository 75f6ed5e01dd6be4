namespace Rrq;

/// <summary>A value cannot be stored: neither serialized exactly nor captured as a snapshot.</summary>
public sealed class RrqValueException : RrqException
{
    /// <summary>Creates the exception.</summary>
    public RrqValueException(string message, Exception? innerException = null)
        : base(message, innerException ?? new InvalidOperationException(message)) { }

    /// <summary>Creates an exception with a message.</summary>
    public RrqValueException(string message) : base(message) { }

    /// <summary>Creates an exception with no message.</summary>
    public RrqValueException() { }
}
