using System.Collections;
using System.Globalization;

namespace Rrq.Dashboard;

/// <summary>How the pages write numbers, durations, types and values (times are <c>Pages/TimeText.razor</c>; how long ago
/// is <see cref="Rrq.Display.Formats.Ago"/>, shared with <c>rrq-worker info</c>).</summary>
internal static class DashboardFormat
{
    public static string N(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    public static string Seconds(TimeSpan t) => t.TotalSeconds < 1
        ? string.Create(CultureInfo.InvariantCulture, $"{t.TotalMilliseconds:0} ms")
        : string.Create(CultureInfo.InvariantCulture, $"{t.TotalSeconds:0.##} s");

    public static string Ago(TimeSpan t) => Rrq.Display.Formats.Ago(t);

    /// <summary>A type's name as C# writes it (<c>double[]</c>, <c>List&lt;int&gt;</c>).</summary>
    public static string TypeName(Type? type) => type is null ? "null" : Rrq.Display.CSharpTypeName.Of(type, forDisplay: true);

    /// <summary>A value as text for a page, cut to <paramref name="max"/> characters: collections as their first
    /// elements in brackets, strings quoted, anything else as its ToString.</summary>
    public static string Preview(object? value, int max)
    {
        string text;
        try
        {
            text = value switch
            {
                null => "null",
                string s => "\"" + s + "\"",
                IDictionary d => "{" + string.Join(", ", d.Keys.Cast<object?>().Take(20).Select(k => $"{Preview(k, 40)}: {Preview(d[k!], 60)}"))
                    + (d.Count > 20 ? $", … ({d.Count} in all)" : "") + "}",
                ICollection c => "[" + string.Join(", ", c.Cast<object?>().Take(20).Select(x => Preview(x, 60)))
                    + (c.Count > 20 ? $", … ({c.Count} in all)" : "") + "]",
                IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
                _ => value.ToString() ?? "",
            };
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            text = $"({TypeName(value?.GetType())}: its ToString threw {e.GetType().Name})";
        }
        return text.Length > max ? text[..(max - 1)] + "…" : text;
    }
}
