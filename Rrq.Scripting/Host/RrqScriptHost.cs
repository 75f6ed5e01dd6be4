using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Scripting;
using Microsoft.CodeAnalysis.Scripting;
using Rrq.Scripting.Envir;
using Rrq.Scripting.Evaluation;

namespace Rrq.Scripting;

/// <summary>
/// Runs a <c>.csx</c> file the way dotnet-script does, for what this project needs: <c>#r</c> of
/// assemblies and <c>#load</c> of other files (relative to the file), top-level <c>await</c>, and
/// <c>Args</c>. Rrq.Core and Rrq.Scripting are referenced already; a <c>#r</c> of an assembly the
/// host carries (by file name, e.g. <c>Rrq.Core.dll</c>) gets the host's copy whatever its folder, and
/// other <c>#r</c> paths are resolved from the file's folder, then the host's. <c>#r "nuget: ..."</c>
/// is not supported.
/// </summary>
public static class RrqScriptHost
{
    /// <summary>Runs the file; returns the process exit code (0, or 1 after printing what failed).</summary>
    public static async Task<int> RunFileAsync(string path, IList<string> args, TextWriter error,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(error);
        var full = Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            await error.WriteLineAsync($"rrq-worker run: script '{path}' does not exist (looked for {full}).").ConfigureAwait(false);
            return 1;
        }
        var dir = Path.GetDirectoryName(full)!;
        var code = await File.ReadAllTextAsync(full, cancellationToken).ConfigureAwait(false);
        var options = ScriptDefaults.Options(dir)
            .AddReferences(typeof(RrqScriptHost).Assembly)
            .WithFilePath(full)
            .WithMetadataResolver(new HostReferenceResolver(ScriptDefaults.Options(dir).MetadataResolver))
            .WithSourceResolver(new SourceFileResolver(ImmutableArray<string>.Empty, dir));
        var script = CSharpScript.Create(code, options, typeof(ScriptHostGlobals));
        var diagnostics = script.Compile(cancellationToken);
        var errors = diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).ToArray();
        if (errors.Length > 0)
        {
            await error.WriteLineAsync($"{path} does not compile:").ConfigureAwait(false);
            foreach (var d in errors)
            {
                await error.WriteLineAsync("  " + DiagnosticText.Format(d) + Hint(d)).ConfigureAwait(false);
            }
            return 1;
        }
        try
        {
            await script.RunAsync(new ScriptHostGlobals(args), cancellationToken).ConfigureAwait(false);
            return 0;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            var d = TraceFormatter.Describe(e, new Dictionary<string, string>(), null);
            await error.WriteLineAsync($"{path} failed: {d.ExceptionType}: {d.Message}").ConfigureAwait(false);
            if (d.Trace is not null)
            {
                await error.WriteLineAsync(d.Trace).ConfigureAwait(false);
            }
            return 1;
        }
    }

    private static string Hint(Diagnostic d) => d.Id switch
    {
        "CS0006" => " (a #r path is resolved relative to the script's folder, then the host's folder)",
        "CS7010" or "CS1504" => " (a #load path is resolved relative to the script's folder)",
        _ => d.GetMessage(System.Globalization.CultureInfo.InvariantCulture).Contains("nuget", StringComparison.OrdinalIgnoreCase)
            ? " (#r \"nuget: ...\" is not supported by this host: reference a .dll)" : "",
    };
}
