using System.Collections.Immutable;
using Microsoft.CodeAnalysis;

namespace Rrq.Scripting;

/// <summary>
/// Resolves a <c>.csx</c> file's <c>#r</c> lines. A reference to an assembly the host itself carries
/// (Rrq.Core, Rrq.Scripting, StackExchange.Redis, ...) is answered with the host's own copy, whatever
/// folder the line names: so a script can say <c>#r "Rrq.WorkerRunner/bin/Release/net10.0/Rrq.Core.dll"</c>
/// for dotnet-script's sake and still run here without that build, and never loads a second Rrq.Core.
/// Anything else resolves as usual: relative to the script's folder, then the host's folder.
/// </summary>
internal sealed class HostReferenceResolver(MetadataReferenceResolver inner) : MetadataReferenceResolver
{
    public override ImmutableArray<PortableExecutableReference> ResolveReference(string reference, string? baseFilePath,
        MetadataReferenceProperties properties)
    {
        if (reference.EndsWith(".dll", StringComparison.OrdinalIgnoreCase)
            && HostCopy(Path.GetFileNameWithoutExtension(reference)) is { } own)
        {
            return [MetadataReference.CreateFromFile(own, properties)];
        }
        return inner.ResolveReference(reference, baseFilePath, properties);
    }

    public override bool ResolveMissingAssemblies => inner.ResolveMissingAssemblies;

    public override PortableExecutableReference? ResolveMissingAssembly(MetadataReference definition, AssemblyIdentity referenceIdentity) =>
        inner.ResolveMissingAssembly(definition, referenceIdentity);

    public override bool Equals(object? other) => other is HostReferenceResolver h && h.Inner.Equals(Inner);

    public override int GetHashCode() => Inner.GetHashCode();

    private MetadataReferenceResolver Inner => inner;

    /// <summary>The path of the host's own copy of an assembly, if it ships one beside itself.</summary>
    private static string? HostCopy(string name)
    {
        var path = Path.Combine(AppContext.BaseDirectory, name + ".dll");
        return File.Exists(path) ? path : null;
    }
}
