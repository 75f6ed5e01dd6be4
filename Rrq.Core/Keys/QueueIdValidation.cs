namespace Rrq.Keys;

/// <summary>Checks queue ids, queue names and worker ids before they become parts of keys.</summary>
internal static class QueueIdValidation
{
    private const int MaxLength = 200;

    /// <summary>A queue id may hold anything printable except braces and white space.</summary>
    public static void Check(string queueId)
    {
        ArgumentNullException.ThrowIfNull(queueId);
        var bad = FirstBad(queueId, allowColon: true);
        if (queueId.Length == 0 || queueId.Length > MaxLength || bad is not null)
        {
            throw new ArgumentException(
                $"Invalid queue id '{queueId}': {Reason(queueId, bad)}. A queue id is 1 to {MaxLength} printable " +
                "characters without braces or white space, for example 'rrq:3f9a2c1b'.", nameof(queueId));
        }
    }

    /// <summary>Named queues and worker ids become one segment of a key: no ':' either.</summary>
    public static void CheckName(string name, string what, string paramName)
    {
        ArgumentNullException.ThrowIfNull(name, paramName);
        var bad = FirstBad(name, allowColon: false);
        if (name.Length == 0 || name.Length > MaxLength || bad is not null)
        {
            throw new ArgumentException(
                $"Invalid {what} '{name}': {Reason(name, bad)}. A {what} is 1 to {MaxLength} printable characters " +
                "without braces, colons or white space, for example 'short'.", paramName);
        }
    }

    private static string Reason(string s, char? bad) =>
        s.Length == 0 ? "it is empty"
        : s.Length > MaxLength ? $"it is {s.Length} characters long"
        : $"it contains {Describe(bad!.Value)}";

    private static string Describe(char c) => c switch
    {
        ' ' => "a space",
        '{' or '}' or ':' => $"'{c}'",
        _ => $"the character U+{(int)c:X4}",
    };

    private static char? FirstBad(string s, bool allowColon)
    {
        foreach (var c in s)
        {
            if (char.IsWhiteSpace(c) || char.IsControl(c) || c == '{' || c == '}' || (!allowColon && c == ':'))
            {
                return c;
            }
        }
        return null;
    }
}
