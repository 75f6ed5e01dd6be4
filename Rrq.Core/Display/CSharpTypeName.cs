using System.Text;

namespace Rrq.Display;

/// <summary>C# spelling of a runtime type: for generated declarations (with <c>global::</c> and namespaces), and for
/// display (traces, the dashboard, <c>rrq-worker info</c>).</summary>
internal static class CSharpTypeName
{
    private static readonly Dictionary<Type, string> Keywords = new()
    {
        [typeof(bool)] = "bool", [typeof(byte)] = "byte", [typeof(sbyte)] = "sbyte", [typeof(char)] = "char",
        [typeof(short)] = "short", [typeof(ushort)] = "ushort", [typeof(int)] = "int", [typeof(uint)] = "uint",
        [typeof(long)] = "long", [typeof(ulong)] = "ulong", [typeof(float)] = "float", [typeof(double)] = "double",
        [typeof(decimal)] = "decimal", [typeof(string)] = "string", [typeof(object)] = "object", [typeof(void)] = "void",
    };

    /// <summary>True when generated code can name the type (public all the way out, not compiler-made).</summary>
    public static bool IsNameable(Type t)
    {
        if (t.IsArray || t.IsPointer || t.IsByRef)
        {
            return !t.IsPointer && IsNameable(t.GetElementType()!);
        }
        if (!t.IsVisible || t.Name.StartsWith('<') || t.Assembly.IsDynamic || string.IsNullOrEmpty(t.Assembly.Location))
        {
            return false;
        }
        return !t.IsGenericType || t.GetGenericArguments().All(IsNameable);
    }

    public static string Of(Type t, bool forDisplay = false)
    {
        var sb = new StringBuilder();
        Append(sb, t, forDisplay);
        return sb.ToString();
    }

    private static void Append(StringBuilder sb, Type t, bool display)
    {
        if (Keywords.TryGetValue(t, out var kw))
        {
            sb.Append(kw);
            return;
        }
        if (t.IsByRef)
        {
            Append(sb, t.GetElementType()!, display);
            return;
        }
        if (t.IsArray)
        {
            Append(sb, t.GetElementType()!, display);
            sb.Append('[').Append(',', t.GetArrayRank() - 1).Append(']');
            return;
        }
        if (Nullable.GetUnderlyingType(t) is { } under)
        {
            Append(sb, under, display);
            sb.Append('?');
            return;
        }
        if (t.IsGenericParameter)
        {
            sb.Append(t.Name);
            return;
        }
        if (!display)
        {
            sb.Append("global::");
        }
        var args = t.IsGenericType ? t.GetGenericArguments() : [];
        var argIndex = 0;
        var chain = new List<Type>();
        for (var c = t; c is not null; c = c.IsNested ? c.DeclaringType : null)
        {
            chain.Insert(0, c);
        }
        if (!display && !string.IsNullOrEmpty(chain[0].Namespace))
        {
            sb.Append(chain[0].Namespace).Append('.');
        }
        for (var i = 0; i < chain.Count; i++)
        {
            if (i > 0)
            {
                sb.Append('.');
            }
            var name = chain[i].Name;
            var tick = name.IndexOf('`', StringComparison.Ordinal);
            var count = 0;
            if (tick >= 0)
            {
                count = int.Parse(name[(tick + 1)..], System.Globalization.CultureInfo.InvariantCulture);
                name = name[..tick];
            }
            sb.Append(name);
            if (count > 0)
            {
                sb.Append('<');
                for (var k = 0; k < count; k++)
                {
                    if (k > 0)
                    {
                        sb.Append(", ");
                    }
                    Append(sb, args[argIndex++], display);
                }
                sb.Append('>');
            }
        }
    }
}
