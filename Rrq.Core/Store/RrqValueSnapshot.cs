using System.Text;
using System.Text.Json;

namespace Rrq;

/// <summary>
/// A value whose type only the worker knows (a record declared in an environment <c>.csx</c>, an
/// anonymous type, a type from an assembly this process has not loaded), captured as its structure:
/// member names and values, with the original type name kept.
/// </summary>
[Display.TypeFormatterSource(typeof(Display.RrqFormatterSource))]
public sealed class RrqValueSnapshot
{
    internal RrqValueSnapshot(string typeName, string json)
    {
        TypeName = typeName;
        Json = json;
        using var doc = JsonDocument.Parse(json);
        Value = Convert(doc.RootElement);
    }

    /// <summary>The full name of the value's type where it was made, e.g. <c>Submission#0+Fit</c>.</summary>
    public string TypeName { get; }

    /// <summary>The value as JSON.</summary>
    public string Json { get; }

    /// <summary>The structure: an <see cref="IReadOnlyDictionary{TKey, TValue}"/> of members for an
    /// object, an <see cref="IReadOnlyList{T}"/> for a sequence, or a string, double, long, bool or null.</summary>
    public object? Value { get; }

    /// <summary>The members of an object value (empty for anything else).</summary>
    public IReadOnlyDictionary<string, object?> Members =>
        Value as IReadOnlyDictionary<string, object?> ?? new Dictionary<string, object?>();

    /// <summary>One member of an object value.</summary>
    /// <exception cref="KeyNotFoundException">The value has no member of that name.</exception>
    public object? this[string member] => Members.TryGetValue(member, out var v) ? v
        : throw new KeyNotFoundException(
            $"The {TypeName} value has no member '{member}'; it has: {string.Join(", ", Members.Keys)}.");

    /// <summary>Shows the value as <c>TypeName { A = 1, B = [1, 2] }</c>.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder(ShortTypeName(TypeName)).Append(' ');
        Format(sb, Value);
        return sb.ToString();
    }

    private static string ShortTypeName(string name)
    {
        var plus = name.LastIndexOf('+');
        return plus >= 0 && name.StartsWith("Submission#", StringComparison.Ordinal) ? name[(plus + 1)..] : name;
    }

    /// <summary>One member's value as <see cref="ToString"/> shows it.</summary>
    internal static string FormatValue(object? value)
    {
        var sb = new StringBuilder();
        Format(sb, value);
        return sb.ToString();
    }

    private static void Format(StringBuilder sb, object? value)
    {
        switch (value)
        {
            case null: sb.Append("null"); break;
            case string s: sb.Append('"').Append(s).Append('"'); break;
            case bool b: sb.Append(b ? "true" : "false"); break;
            case double d: sb.Append(d.ToString("R", System.Globalization.CultureInfo.InvariantCulture)); break;
            case long l: sb.Append(l.ToString(System.Globalization.CultureInfo.InvariantCulture)); break;
            case IReadOnlyDictionary<string, object?> members:
                sb.Append("{ ");
                var first = true;
                foreach (var (k, v) in members)
                {
                    if (!first) { sb.Append(", "); }
                    first = false;
                    sb.Append(k).Append(" = ");
                    Format(sb, v);
                }
                sb.Append(members.Count == 0 ? "}" : " }");
                break;
            case IReadOnlyList<object?> items:
                sb.Append('[');
                for (var i = 0; i < items.Count; i++)
                {
                    if (i > 0) { sb.Append(", "); }
                    Format(sb, items[i]);
                }
                sb.Append(']');
                break;
            default: sb.Append(value); break;
        }
    }

    private static object? Convert(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => e.EnumerateObject().ToDictionary(p => p.Name, p => Convert(p.Value)) as IReadOnlyDictionary<string, object?>,
        JsonValueKind.Array => e.EnumerateArray().Select(Convert).ToArray() as IReadOnlyList<object?>,
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Number => e.TryGetInt64(out var l) ? (object)l : e.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => null,
    };
}
