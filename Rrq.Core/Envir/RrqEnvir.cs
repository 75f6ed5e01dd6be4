namespace Rrq;

/// <summary>
/// A worker environment: <c>.csx</c> files of functions and records, namespaces to import, and
/// assemblies to reference (rrq's <c>rrq_envir(sources = ...)</c>). Set it for a queue with
/// <see cref="RrqController.WorkerEnvirSet"/>; the text of each file is stored in Redis, so workers
/// on other machines need no shared filesystem.
/// </summary>
/// <param name="Sources">Paths of <c>.csx</c> files, relative to the current directory or absolute.
/// Files they <c>#load</c> are stored too.</param>
/// <param name="Usings">Namespaces imported into the environment and every task expression,
/// beyond the defaults (System, System.Collections.Generic, System.IO, System.Linq,
/// System.Threading.Tasks, Rrq).</param>
/// <param name="References">Assemblies to reference: paths of <c>.dll</c> files (which must exist
/// at the same path on every worker machine) or names of assemblies the worker can load.</param>
public sealed record RrqEnvir(IReadOnlyList<string> Sources, IReadOnlyList<string>? Usings = null,
    IReadOnlyList<string>? References = null)
{
    /// <summary>An environment with nothing in it: tasks see only the default imports.</summary>
    public static RrqEnvir Empty { get; } = new([]);
}
