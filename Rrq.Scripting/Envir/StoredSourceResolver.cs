using System.Text;
using Microsoft.CodeAnalysis;

namespace Rrq.Scripting.Envir;

/// <summary>
/// Resolves <c>#load</c> inside a stored environment from the texts stored with it (keyed by the
/// full path they had where the environment was set), so workers on other machines need no files.
/// </summary>
internal sealed class StoredSourceResolver(IReadOnlyDictionary<string, string> files) : SourceReferenceResolver
{
    public override string? NormalizePath(string path, string? baseFilePath) => path;

    public override string? ResolveReference(string path, string? baseFilePath)
    {
        var dir = baseFilePath is null ? Environment.CurrentDirectory : Path.GetDirectoryName(baseFilePath) ?? "";
        var full = Path.GetFullPath(Path.Combine(dir, path));
        return files.ContainsKey(full) ? full : null;
    }

    public override Stream OpenRead(string resolvedPath) =>
        new MemoryStream(Encoding.UTF8.GetBytes(files[resolvedPath]));

    public override bool Equals(object? other) => other is StoredSourceResolver r && ReferenceEquals(r.Files, Files);

    public override int GetHashCode() => Files.GetHashCode();

    private IReadOnlyDictionary<string, string> Files => files;
}
