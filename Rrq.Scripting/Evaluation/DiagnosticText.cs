using Microsoft.CodeAnalysis;

namespace Rrq.Scripting.Evaluation;

/// <summary>One line per compiler diagnostic: "file(line,col): error CS0103: message".</summary>
internal static class DiagnosticText
{
    public static string Format(Diagnostic d)
    {
        var span = d.Location.GetMappedLineSpan();
        var where = span.IsValid && !string.IsNullOrEmpty(span.Path)
            ? $"{span.Path}({span.StartLinePosition.Line + 1},{span.StartLinePosition.Character + 1}): "
            : "";
        return $"{where}{d.Severity.ToString().ToLowerInvariant()} {d.Id}: {d.GetMessage(System.Globalization.CultureInfo.InvariantCulture)}";
    }
}
