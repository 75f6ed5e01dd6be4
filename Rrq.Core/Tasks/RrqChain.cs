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

    /// <inheritdoc />
    public override string ToString() =>
        $"up: [{string.Join(", ", Up)}], down: [{string.Join(", ", Down)}]";
}
