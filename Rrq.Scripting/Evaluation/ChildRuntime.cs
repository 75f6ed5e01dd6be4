using System.Reflection;
using System.Runtime.Loader;
using Rrq.Workers;

namespace Rrq.Scripting.Evaluation;

/// <summary>
/// Runs, in the child process of a separate-process task, what the worker compiled: the environment's
/// submissions (their top-level code runs once, when the child starts) and then one task expression,
/// continuing from the environment's state as the worker's own tasks do. No compiler is loaded here.
/// </summary>
internal sealed class ChildRuntime : IChildRuntime
{
    private readonly CodeContext _code = new();
    private readonly TaskGlobals _globals = new();
    private object?[] _state = [];
    private IReadOnlyDictionary<string, string> _displayPaths = new Dictionary<string, string>();

    public void LoadEnvironment(ChildEnvironment environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        _code.AddReferences(environment.ReferenceNames, environment.ReferencePaths);
        var display = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < Math.Min(environment.SourcePaths.Length, environment.DisplayPaths.Length); i++)
        {
            display[environment.SourcePaths[i]] = environment.DisplayPaths[i];
        }
        _displayPaths = display;
        // Slot 0 holds the globals, and each submission with code stores itself in the next one.
        _state = new object?[environment.Submissions.Length + 2];
        _state[0] = _globals;
        foreach (var submission in environment.Submissions)
        {
            var run = _code.Load(submission);
            if (run is null)
            {
                continue;
            }
            try
            {
                run(_state).GetAwaiter().GetResult();
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                var failure = TraceFormatter.Describe(e, _displayPaths, null);
                throw new RrqEnvirException(
                    $"The worker environment threw while it ran ({failure.ExceptionType}: {failure.Message})" +
                    (failure.From is null ? "" : $" at {failure.From}") + ".", e);
            }
        }
    }

    public async Task<RrqEvaluation> RunAsync(RrqTaskContext context, ChildTaskCode code, IReadOnlyDictionary<string, object?> locals)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(code);
        ArgumentNullException.ThrowIfNull(locals);
        _code.AddReferences(code.ReferenceNames, code.ReferencePaths);
        var run = _code.Load(code.Submission)
            ?? throw new RrqException($"The compiled code of task {context.TaskId} has no entry point.");
        var values = new object?[code.LocalNames.Length];
        for (var i = 0; i < values.Length; i++)
        {
            if (!locals.TryGetValue(code.LocalNames[i], out values[i]))
            {
                throw new RrqException($"Task {context.TaskId} has no local '{code.LocalNames[i]}', which its compiled code reads.");
            }
        }
        _globals.__rrq_locals = values;
        using var _ = RrqTask.Enter(context);
        try
        {
            var value = await run(_state).ConfigureAwait(false);
            return RrqEvaluation.Ok(value, [.. code.Warnings, .. context.Warnings]);
        }
        catch (Exception e)
        {
            return TraceFormatter.Describe(e, _displayPaths, code.Expression, [.. code.Warnings, .. context.Warnings]);
        }
        finally
        {
            _globals.__rrq_locals = [];
        }
    }

    /// <summary>Where the compiled submissions live. A submission refers to earlier ones by name, and to
    /// the assemblies it was compiled against; those the application carries come from it, the rest
    /// (<c>#r</c> of a file) from where the worker found them.</summary>
    private sealed class CodeContext : AssemblyLoadContext
    {
        private readonly Dictionary<string, Assembly> _submissions = new(StringComparer.Ordinal);
        private readonly Dictionary<string, string> _files = new(StringComparer.Ordinal);

        public CodeContext()
            : base("rrq-task-code")
        {
            Resolving += (context, name) => name.Name is { } n && _files.TryGetValue(n, out var path) ? context.LoadFromAssemblyPath(path) : null;
        }

        public void AddReferences(string[] names, string[] paths)
        {
            for (var i = 0; i < Math.Min(names.Length, paths.Length); i++)
            {
                _files.TryAdd(names[i], paths[i]);
            }
        }

        public Func<object?[], Task<object>>? Load(ChildAssembly submission)
        {
            using var image = new MemoryStream(submission.Image, writable: false);
            using var symbols = submission.Symbols is null ? null : new MemoryStream(submission.Symbols, writable: false);
            var assembly = LoadFromStream(image, symbols);
            _submissions[submission.Name] = assembly;
            if (submission.EntryType is null || submission.EntryMethod is null)
            {
                return null;
            }
            var method = assembly.GetType(submission.EntryType, throwOnError: true)!.GetMethod(submission.EntryMethod,
                BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static)
                ?? throw new RrqException($"The compiled code '{submission.Name}' lacks its entry point {submission.EntryType}.{submission.EntryMethod}.");
            return method.CreateDelegate<Func<object?[], Task<object>>>();
        }

        protected override Assembly? Load(AssemblyName assemblyName) =>
            assemblyName.Name is { } n && _submissions.TryGetValue(n, out var a) ? a : null;
    }
}
