using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Emit;
using Microsoft.CodeAnalysis.Scripting;
using Rrq.Workers;

namespace Rrq.Scripting.Evaluation;

/// <summary>Turns compiled script submissions into the assemblies a child process loads (see
/// <see cref="ChildEnvironment"/>): the same IL and symbols the worker would run itself.</summary>
internal static class ChildEmitter
{
    private static readonly EmitOptions Options = new(debugInformationFormat: DebugInformationFormat.PortablePdb);

    /// <summary>The submissions of a script chain, first to last.</summary>
    public static List<Script> Chain(Script last)
    {
        var chain = new List<Script>();
        for (var s = last; s is not null; s = s.Previous)
        {
            chain.Add(s);
        }
        chain.Reverse();
        return chain;
    }

    /// <summary>The submission's assembly and symbols; null when it has nothing to emit (no code).</summary>
    public static ChildAssembly? Emit(Script script)
    {
        var compilation = script.GetCompilation();
        using var pe = new MemoryStream();
        using var pdb = new MemoryStream();
        var result = compilation.Emit(pe, pdb, options: Options);
        if (!result.Success && !result.Diagnostics.Any(d => d.Severity == DiagnosticSeverity.Error))
        {
            return null;   // a submission with nothing in it (as Roslyn's own script runner also finds)
        }
        if (!result.Success)
        {
            // The same code compiled without errors a moment ago; a failing emit is a compiler limit (or bug).
            throw new RrqException("The compiled code could not be written for a child process:\n  " +
                string.Join("\n  ", result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Select(DiagnosticText.Format)));
        }
        var entry = compilation.GetEntryPoint(CancellationToken.None);
        return new ChildAssembly
        {
            Name = compilation.AssemblyName ?? "",
            Image = pe.ToArray(),
            Symbols = pdb.ToArray(),
            EntryType = entry is null ? null : QualifiedName(entry.ContainingType),
            EntryMethod = entry?.MetadataName,
        };
    }

    /// <summary>The assemblies a submission refers to by file, by assembly name.</summary>
    public static void AddFileReferences(Script script, List<(string Name, string Path)> into)
    {
        var compilation = script.GetCompilation();
        foreach (var reference in compilation.References.OfType<PortableExecutableReference>())
        {
            if (reference.FilePath is { } path && compilation.GetAssemblyOrModuleSymbol(reference) is IAssemblySymbol assembly)
            {
                if (!into.Exists(r => r.Name == assembly.Identity.Name))
                {
                    into.Add((assembly.Identity.Name, path));
                }
            }
        }
    }

    private static string QualifiedName(INamedTypeSymbol type)
    {
        var ns = type.ContainingNamespace is { IsGlobalNamespace: false } n ? n.ToDisplayString() + "." : "";
        var nesting = "";
        for (var outer = type.ContainingType; outer is not null; outer = outer.ContainingType)
        {
            nesting = outer.MetadataName + "+" + nesting;
        }
        return ns + nesting + type.MetadataName;
    }
}
