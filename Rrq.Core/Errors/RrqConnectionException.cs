namespace Rrq;

/// <summary>Redis could not be reached, or what answered is not a Redis server usable by Rrq.</summary>
public sealed class RrqConnectionException : RrqException
{
    /// <summary>Creates the exception naming the address that failed.</summary>
    public RrqConnectionException(string address, string message, Exception? innerException = null)
        : base(message, innerException ?? new InvalidOperationException(message)) => Address = address;

    /// <summary>Creates an exception with a message.</summary>
    public RrqConnectionException(string message) : base(message) => Address = "";

    /// <summary>Creates an exception with a message and its cause.</summary>
    public RrqConnectionException(string message, Exception innerException) : base(message, innerException) => Address = "";

    /// <summary>Creates an exception with no message.</summary>
    public RrqConnectionException() => Address = "";

    /// <summary>The address (host:port) that was tried.</summary>
    public string Address { get; }
}
