using System.Collections.Concurrent;
using System.Reflection;

namespace Rrq.Store;

/// <summary>Writes type names that another process can resolve, and resolves them again.</summary>
internal static class TypeNames
{
    private static readonly ConcurrentDictionary<string, Type?> Resolved = new(StringComparer.Ordinal);
    private static readonly Assembly CoreLib = typeof(object).Assembly;

    /// <summary>A name without versions for types outside the core library.</summary>
    public static string Of(Type type) =>
        type.Assembly == CoreLib && !type.IsGenericType ? type.FullName ?? type.Name
        : type.AssemblyQualifiedName ?? type.FullName ?? type.Name;

    /// <summary>True for types no other process can know: script submissions, anonymous types,
    /// types of dynamic or in-memory assemblies.</summary>
    public static bool IsProcessLocal(Type type)
    {
        if (type.Assembly.IsDynamic || string.IsNullOrEmpty(type.Assembly.Location))
        {
            return true;
        }
        if (type.Name.Contains("AnonymousType", StringComparison.Ordinal) || type.Name.StartsWith('<'))
        {
            return true;
        }
        return type.IsGenericType && type.GetGenericArguments().Any(IsProcessLocal)
            || type.HasElementType && IsProcessLocal(type.GetElementType()!);
    }

    /// <summary>Resolves a written name against the assemblies this process has loaded; null if unknown.</summary>
    public static Type? Resolve(string name) => Resolved.GetOrAdd(name, static n =>
    {
        try
        {
            return Type.GetType(n, FindAssembly, null, throwOnError: false);
        }
        catch (Exception e) when (e is ArgumentException or IOException or BadImageFormatException or TypeLoadException)
        {
            return null;
        }
    });

    private static Assembly? FindAssembly(AssemblyName name)
    {
        foreach (var a in AppDomain.CurrentDomain.GetAssemblies())
        {
            if (!a.IsDynamic && string.Equals(a.GetName().Name, name.Name, StringComparison.Ordinal))
            {
                return a;
            }
        }
        try
        {
            return Assembly.Load(new AssemblyName(name.Name!));
        }
        catch (Exception e) when (e is FileNotFoundException or FileLoadException or BadImageFormatException)
        {
            return null;
        }
    }
}
