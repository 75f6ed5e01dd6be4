namespace Rrq;

/// <summary>The Redis server's ACL refused something Rrq needs (NOPERM): the message says what, as which user, and how to
/// make a user that may (<c>rrq-worker acl QUEUE</c>; see docs/security.md).</summary>
public sealed class RrqPermissionException : RrqException
{
    /// <summary>Creates the exception.</summary>
    public RrqPermissionException(string message) : base(message) { }

    /// <summary>Creates the exception.</summary>
    public RrqPermissionException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Creates an exception with no message.</summary>
    public RrqPermissionException() { }
}
