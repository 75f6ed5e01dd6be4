namespace Rrq;

/// <summary>A worker environment could not be set: a source file is missing or does not compile.</summary>
public sealed class RrqEnvirException : RrqException
{
    /// <summary>Creates the exception with the compiler's diagnostics, if any.</summary>
    public RrqEnvirException(string message, IReadOnlyList<string>? diagnostics = null) : base(message) =>
        Diagnostics = diagnostics ?? [];

    /// <summary>Creates an exception with a message and its cause.</summary>
    public RrqEnvirException(string message, Exception innerException) : base(message, innerException) => Diagnostics = [];

    /// <summary>Creates an exception with a message.</summary>
    public RrqEnvirException(string message) : base(message) => Diagnostics = [];

    /// <summary>Creates an exception with no message.</summary>
    public RrqEnvirException() => Diagnostics = [];

    /// <summary>The compiler's diagnostics (file, line, code, text), when compilation failed.</summary>
    public IReadOnlyList<string> Diagnostics { get; }
}
