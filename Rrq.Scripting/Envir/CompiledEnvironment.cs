using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Scripting;
using Microsoft.CodeAnalysis.Scripting;
using Rrq.Scripting.Evaluation;

namespace Rrq.Scripting.Envir;

/// <summary>
/// An environment compiled into a chain of script submissions (one per source file), sharing one
/// globals object through which task locals are passed.
/// </summary>
internal sealed class CompiledEnvironment
{
    private CompiledEnvironment(RrqEnvirSpec spec, Script<object> script, ScriptOptions options, TaskGlobals globals,
        IReadOnlyDictionary<string, string> displayPaths)
    {
        Spec = spec;
        Script = script;
        Options = options;
        Globals = globals;
        DisplayPaths = displayPaths;
    }

    public RrqEnvirSpec Spec { get; }
    public Script<object> Script { get; }
    public ScriptOptions Options { get; }
    public TaskGlobals Globals { get; }

    /// <summary>Full source path → the path as the user gave it, for traces.</summary>
    public IReadOnlyDictionary<string, string> DisplayPaths { get; }

    /// <summary>The state after running the environment's top-level code; tasks continue from it.</summary>
    public ScriptState<object>? State { get; private set; }

    /// <summary>Compiles every source; throws <see cref="RrqEnvirException"/> with all error diagnostics.</summary>
    public static CompiledEnvironment Compile(RrqEnvirSpec spec)
    {
        var files = new Dictionary<string, string>(spec.Loads, StringComparer.Ordinal);
        var display = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var s in spec.Sources)
        {
            var full = Path.GetFullPath(s.Path);
            files[full] = s.Text;
            display[full] = s.Path;
        }
        var options = ScriptDefaults.Options()
            .WithSourceResolver(new StoredSourceResolver(files))
            .AddImports(spec.Usings)
            .AddReferences(spec.References);
        var globals = new TaskGlobals();
        Script<object> script = CSharpScript.Create<object>("", options, typeof(TaskGlobals));
        var errors = new List<string>();
        errors.AddRange(Errors(script.Compile()));
        foreach (var s in spec.Sources)
        {
            script = script.ContinueWith<object>(s.Text, options.WithFilePath(Path.GetFullPath(s.Path)));
            errors.AddRange(Errors(script.Compile()).Select(e => Display(e, display)));
        }
        if (errors.Count > 0)
        {
            throw new RrqEnvirException(
                $"The worker environment does not compile ({errors.Count} error{(errors.Count > 1 ? "s" : "")}):\n  " +
                string.Join("\n  ", errors), errors);
        }
        return new CompiledEnvironment(spec, script, options, globals, display);
    }

    /// <summary>Runs the environment's top-level code once.</summary>
    public async Task RunAsync()
    {
        try
        {
            State = await Script.RunAsync(Globals).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            var failure = TraceFormatter.Describe(e, DisplayPaths, null);
            throw new RrqEnvirException(
                $"The worker environment threw while it ran ({failure.ExceptionType}: {failure.Message})" +
                (failure.From is null ? "" : $" at {failure.From}") + ".", e);
        }
    }

    private static IEnumerable<string> Errors(ImmutableArray<Diagnostic> diagnostics) =>
        diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Select(DiagnosticText.Format);

    private static string Display(string text, IReadOnlyDictionary<string, string> display)
    {
        foreach (var (full, given) in display)
        {
            text = text.Replace(full, given, StringComparison.Ordinal);
        }
        return text;
    }
}
