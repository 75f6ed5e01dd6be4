using System.Diagnostics;
using System.Reflection;
using System.Text;
using Rrq.Display;

namespace Rrq.Scripting.Evaluation;

/// <summary>
/// Turns an exception thrown by task code into rrq's error parts: the innermost frame of user code
/// (<c>From</c>) and a stack trace with <c>.csx</c> files and lines, cut after the outermost frame of
/// user code so that the worker's and Roslyn's own frames do not show.
/// </summary>
internal static class TraceFormatter
{
    public const string TaskFile = "<task>";

    public static RrqEvaluation Describe(Exception e, IReadOnlyDictionary<string, string> displayPaths, string? expression,
        IReadOnlyList<string>? warnings = null)
    {
        e = Unwrap(e);
        var frames = new StackTrace(e, fNeedFileInfo: true).GetFrames();
        var lastUser = Array.FindLastIndex(frames, IsUserFrame);
        var firstUser = Array.FindIndex(frames, IsUserFrame);
        var kept = lastUser < 0 ? frames : frames[..(lastUser + 1)];
        var trace = new StringBuilder();
        foreach (var f in kept)
        {
            trace.Append("   at ").Append(FrameText(f, displayPaths, expression, withParameterNames: true)).Append('\n');
        }
        string? from = null;
        if (firstUser >= 0)
        {
            from = FrameText(frames[firstUser], displayPaths, expression, withParameterNames: false, fileNameOnly: true);
        }
        return new RrqEvaluation
        {
            Success = false,
            Message = e.Message,
            ExceptionType = e.GetType().FullName,
            From = from,
            Trace = trace.Length == 0 ? null : trace.ToString().TrimEnd('\n'),
            Warnings = warnings ?? [],
        };
    }

    private static Exception Unwrap(Exception e)
    {
        while (true)
        {
            switch (e)
            {
                case AggregateException { InnerExceptions.Count: 1 } a:
                    e = a.InnerExceptions[0];
                    continue;
                case TargetInvocationException { InnerException: { } inner }:
                    e = inner;
                    continue;
                default:
                    return e;
            }
        }
    }

    /// <summary>Script submissions are compiled into in-memory assemblies named "ℛ*…#n-m".</summary>
    private static bool IsUserFrame(StackFrame f)
    {
        var asm = f.GetMethod()?.DeclaringType?.Assembly;
        return asm is not null && (asm.IsDynamic || string.IsNullOrEmpty(asm.Location))
            && asm.GetName().Name?.Contains('#', StringComparison.Ordinal) == true;
    }

    private static string FrameText(StackFrame f, IReadOnlyDictionary<string, string> displayPaths, string? expression,
        bool withParameterNames, bool fileNameOnly = false)
    {
        var method = f.GetMethod();
        var file = f.GetFileName();
        var line = f.GetFileLineNumber();
        var isTask = file == TaskFile;
        string name;
        if (isTask)
        {
            name = expression is null ? "<task expression>" : Shorten(expression);
        }
        else if (method is null)
        {
            name = "<unknown>";
        }
        else
        {
            name = MethodText(method, withParameterNames, IsUserFrame(f));
        }
        if (file is null)
        {
            return name;
        }
        var shown = displayPaths.TryGetValue(file, out var given) ? given : file;
        if (fileNameOnly)
        {
            shown = Path.GetFileName(shown);
            return isTask ? name : $"{name} at {shown}:{line}";
        }
        return $"{name} in {shown}:line {line}";
    }

    private static string Shorten(string expression)
    {
        var oneLine = string.Join(' ', expression.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
        return oneLine.Length <= 80 ? oneLine : oneLine[..77] + "...";
    }

    private static string MethodText(MethodBase method, bool withParameterNames, bool user)
    {
        var type = method.DeclaringType;
        var name = method.Name;
        // Async and iterator bodies run in compiler-made types "<Name>d__3"; show the method's own name.
        if (name == "MoveNext" && type?.Name is { } tn && tn.StartsWith('<') && tn.IndexOf('>', StringComparison.Ordinal) is > 1 and var end)
        {
            return tn[1..end] + "(...)";
        }
        var parameters = string.Join(", ", method.GetParameters().Select(p =>
            withParameterNames ? $"{CSharpTypeName.Of(p.ParameterType, forDisplay: true)} {p.Name}" : CSharpTypeName.Of(p.ParameterType, forDisplay: true)));
        var owner = user || type is null ? "" : (type.Namespace is { } ns ? ns + "." : "") + CSharpTypeName.Of(type, forDisplay: true) + ".";
        if (user && type?.DeclaringType is not null && !type.Name.StartsWith('<'))
        {
            owner = type.Name + ".";   // a record or class declared in a script: Fit.Predict
        }
        return $"{owner}{name}({parameters})";
    }
}
