using System.Text.RegularExpressions;

namespace Rrq.Envir;

/// <summary>Reads an environment's source files (and the files they <c>#load</c>) into a spec.</summary>
internal static partial class EnvirReader
{
    [GeneratedRegex("""^\s*#load\s+"(?<path>[^"]+)"\s*$""", RegexOptions.Multiline)]
    private static partial Regex LoadDirective();

    public static RrqEnvirSpec Read(RrqEnvir envir, long version)
    {
        ArgumentNullException.ThrowIfNull(envir);
        ArgumentNullException.ThrowIfNull(envir.Sources, nameof(envir.Sources));
        var sources = new List<RrqEnvirSource>();
        var loads = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var path in envir.Sources)
        {
            var full = Path.GetFullPath(path);
            if (!File.Exists(full))
            {
                throw new RrqEnvirException(
                    $"Worker environment source '{path}' does not exist (looked for {full}). Nothing was changed; " +
                    "check the path, relative to the current directory " + $"({Environment.CurrentDirectory}).");
            }
            var text = File.ReadAllText(full);
            sources.Add(new RrqEnvirSource(path, text));
            CollectLoads(full, text, loads);
        }
        return new RrqEnvirSpec(version, sources, loads, envir.Usings ?? [], envir.References ?? []);
    }

    private static void CollectLoads(string fromFile, string text, Dictionary<string, string> loads)
    {
        foreach (Match m in LoadDirective().Matches(text))
        {
            var target = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(fromFile)!, m.Groups["path"].Value));
            if (loads.ContainsKey(target))
            {
                continue;
            }
            if (!File.Exists(target))
            {
                throw new RrqEnvirException(
                    $"Worker environment file '{fromFile}' loads '{m.Groups["path"].Value}', which does not exist " +
                    $"(looked for {target}). Nothing was changed.");
            }
            var loaded = File.ReadAllText(target);
            loads[target] = loaded;
            CollectLoads(target, loaded, loads);
        }
    }
}
