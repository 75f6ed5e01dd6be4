namespace Rrq;

/// <summary>
/// Links of a task to others: <see cref="Up"/> are the tasks before it, <see cref="Down"/> the
/// tasks after it, each list oldest first; both empty when the task has no such links.
/// </summary>
/// <param name="Up">Older tasks (dependencies, or earlier members of a retry chain).</param>
/// <param name="Down">Newer tasks (dependents, or later members of a retry chain).</param>
public sealed record RrqChain(IReadOnlyList<string> Up, IReadOnlyList<string> Down)
{
    /// <summary>A chain with no links.</summary>
    public static RrqChain Empty { get; } = new([], []);

    /// <summary>Two chains are equal when they list the same ids in the same order.</summary>
    public bool Equals(RrqChain? other) =>
        other is not null && Up.SequenceEqual(other.Up, StringComparer.Ordinal) && Down.SequenceEqual(other.Down, StringComparer.Ordinal);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var id in Up)
        {
            hash.Add(id, StringComparer.Ordinal);
        }
        hash.Add('|');
        foreach (var id in Down)
        {
            hash.Add(id, StringComparer.Ordinal);
        }
        return hash.ToHashCode();
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"up: [{string.Join(", ", Up)}], down: [{string.Join(", ", Down)}]";
}
