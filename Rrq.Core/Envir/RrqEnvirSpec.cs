namespace Rrq;

/// <summary>One source of a stored environment: its name as given and its text.</summary>
/// <param name="Path">The path as given in <see cref="RrqEnvir.Sources"/> (shown in traces).</param>
/// <param name="Text">The file's text at the time the environment was set.</param>
public sealed record RrqEnvirSource(string Path, string Text);

/// <summary>
/// A worker environment as stored in Redis and handed to an <see cref="IRrqTaskEvaluator"/>: the
/// sources' text (and of the files they <c>#load</c>), usings and references, with a version that
/// grows with each <see cref="RrqController.WorkerEnvirSet"/>.
/// </summary>
/// <param name="Version">Grows by one with each set; 0 is the empty environment.</param>
/// <param name="Sources">The sources in order.</param>
/// <param name="Loads">Files reached through <c>#load</c>, by full path at the time of setting.</param>
/// <param name="Usings">Namespaces to import.</param>
/// <param name="References">Assemblies to reference.</param>
public sealed record RrqEnvirSpec(long Version, IReadOnlyList<RrqEnvirSource> Sources,
    IReadOnlyDictionary<string, string> Loads, IReadOnlyList<string> Usings, IReadOnlyList<string> References)
{
    /// <summary>The environment before any has been set.</summary>
    public static RrqEnvirSpec Empty { get; } = new(0, [], new Dictionary<string, string>(), [], []);
}
