using System.Reflection;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Scripting;

namespace Rrq.Scripting.Envir;

/// <summary>The options every environment, task expression and hosted <c>.csx</c> file starts from.</summary>
internal static class ScriptDefaults
{
    /// <summary>Namespaces imported everywhere (those of dotnet-script, plus Rrq).</summary>
    public static readonly string[] Imports =
    [
        "System", "System.Collections.Generic", "System.IO", "System.Linq", "System.Text", "System.Threading.Tasks", "Rrq",
    ];

    private static readonly Assembly[] Assemblies =
    [
        typeof(object).Assembly,                                  // System.Private.CoreLib
        typeof(Enumerable).Assembly,                              // System.Linq
        typeof(List<>).Assembly,
        typeof(System.Collections.Generic.LinkedList<>).Assembly, // System.Collections
        typeof(System.Text.RegularExpressions.Regex).Assembly,
        typeof(System.Text.Json.JsonSerializer).Assembly,
        typeof(Console).Assembly,
        typeof(RrqTask).Assembly,                                 // Rrq.Core
        Assembly.Load("System.Runtime"),
        Assembly.Load("netstandard"),
    ];

    /// <summary>
    /// Debug code generation keeps every frame of user code in stack traces (the JIT does not inline
    /// script methods), which is what makes <see cref="RrqTaskError.From"/> and its lines right.
    /// </summary>
    public static ScriptOptions Options(string? baseDirectory = null) => ScriptOptions.Default
        .WithReferences(Assemblies)
        .WithImports(Imports)
        .WithEmitDebugInformation(true)
        .WithFileEncoding(Encoding.UTF8)
        .WithOptimizationLevel(OptimizationLevel.Debug)
        .WithAllowUnsafe(false)
        .WithMetadataResolver(ScriptMetadataResolver.Default
            .WithBaseDirectory(baseDirectory ?? Environment.CurrentDirectory)
            .WithSearchPaths(AppContext.BaseDirectory));
}
