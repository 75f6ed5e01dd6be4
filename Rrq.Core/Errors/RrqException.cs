namespace Rrq;

/// <summary>The library's own failures (not a task's): bad input, a refused state change, an
/// unreachable server. Each message says what was wrong, with which id, and what to do.</summary>
public class RrqException : Exception
{
    /// <summary>Creates an exception with a message.</summary>
    public RrqException(string message) : base(message) { }

    /// <summary>Creates an exception with a message and its cause.</summary>
    public RrqException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Creates an exception with no message (prefer the other constructors).</summary>
    public RrqException() { }
}
