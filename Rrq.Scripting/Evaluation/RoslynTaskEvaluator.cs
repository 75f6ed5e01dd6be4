using System.Collections.Concurrent;
using System.Reflection;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Scripting;
using Rrq.Display;
using Rrq.Scripting.Envir;
using Rrq.Scripting.Evaluation;

namespace Rrq.Scripting;

/// <summary>
/// Runs task expressions with Roslyn inside a compiled worker environment. The environment compiles
/// once per version; each expression compiles once against it and is cached by (environment
/// version, expression, local names and types), so a repeated expression costs only its run.
/// Locals become typed variables; traces keep <c>.csx</c> files and lines.
/// </summary>
public sealed class RoslynTaskEvaluator : IRrqTaskEvaluator, Rrq.Workers.IChildCompiler
{
    /// <summary>The loaded environment with its own compile cache: replaced together, so an expression is only ever run
    /// on the environment it was compiled against, even while a worker of several slots loads a new one.</summary>
    private sealed record Loaded(CompiledEnvironment Env, ConcurrentDictionary<string, CompiledExpression> Cache);

    private Loaded? _loaded;
    private readonly Lock _loadGate = new();
    private int _compiled;
    private string? _environmentFile;
    private int _files;

    /// <summary>Compiled expressions written for children, oldest first: at most <see cref="ChildFilesKept"/> stay
    /// on disk (a worker fed ever-new expressions would otherwise fill its folder; one deleted is written again
    /// when needed).</summary>
    private readonly Queue<string> _childFiles = new();
    private const int ChildFilesKept = 1000;

    /// <summary>How many distinct expressions have been compiled by this evaluator (each adds an
    /// assembly that is never unloaded).</summary>
    public int CompiledCount => Volatile.Read(ref _compiled);

    /// <summary>How many expressions are in the compile cache now.</summary>
    public int CacheCount => Volatile.Read(ref _loaded)?.Cache.Count ?? 0;

    /// <inheritdoc />
    public void LoadEnvironment(RrqEnvirSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        lock (_loadGate)
        {
            Load(spec);
        }
    }

    private Loaded Load(RrqEnvirSpec spec)
    {
        var env = CompiledEnvironment.Compile(spec);
        env.RunAsync().GetAwaiter().GetResult();
        var loaded = new Loaded(env, new ConcurrentDictionary<string, CompiledExpression>(StringComparer.Ordinal));
        _environmentFile = null;
        Volatile.Write(ref _loaded, loaded);
        return loaded;
    }

    /// <inheritdoc />
    string Rrq.Workers.IChildCompiler.WriteEnvironment(string directory)
    {
        var env = LoadedEnvironment();
        if (_environmentFile is { } written && File.Exists(written))
        {
            return written;
        }
        var image = new Rrq.Workers.ChildEnvironment
        {
            Version = env.Spec.Version,
            SourcePaths = [.. env.DisplayPaths.Keys],
            DisplayPaths = [.. env.DisplayPaths.Values],
        };
        var submissions = new List<Rrq.Workers.ChildAssembly>();
        var references = new List<(string Name, string Path)>();
        foreach (var script in ChildEmitter.Chain(env.Script))
        {
            if (ChildEmitter.Emit(script) is { } emitted)
            {
                submissions.Add(emitted);
            }
            ChildEmitter.AddFileReferences(script, references);
        }
        image.Submissions = [.. submissions];
        // A throwaway task the child runs the whole way while it waits for its real one (not counted as a compile).
        var warm = Compile(env, "__rrq_warm + 1", ["__rrq_warm"], [typeof(int)]);
        image.WarmUp = warm.Script is null ? null : ChildCode("__rrq_warm + 1", ["__rrq_warm"], warm);
        image.ReferenceNames = [.. references.Select(r => r.Name)];
        image.ReferencePaths = [.. references.Select(r => r.Path)];
        Directory.CreateDirectory(directory);
        var file = Path.Combine(directory, $"envir-{env.Spec.Version}-{Interlocked.Increment(ref _files)}.bin");
        image.Write(file);
        Remember(file);
        return _environmentFile = file;
    }

    /// <inheritdoc />
    (string? File, RrqEvaluation? Failure) Rrq.Workers.IChildCompiler.WriteTaskCode(string expression,
        IReadOnlyDictionary<string, object?> locals, string directory)
    {
        ArgumentNullException.ThrowIfNull(expression);
        ArgumentNullException.ThrowIfNull(locals);
        var (env, names, compiled) = Compiled(expression, locals);
        if (compiled.Failure is { } failure)
        {
            return (null, failure);
        }
        if (compiled.ChildFile is { } written && File.Exists(written))
        {
            return (written, null);
        }
        var code = ChildCode(expression, names, compiled);
        Directory.CreateDirectory(directory);
        var file = Path.Combine(directory, $"task-{env.Spec.Version}-{Interlocked.Increment(ref _files)}.bin");
        code.Write(file);
        compiled.ChildFile = file;
        Remember(file);
        return (file, null);
    }

    private void Remember(string file)
    {
        _childFiles.Enqueue(file);
        while (_childFiles.Count > ChildFilesKept)
        {
            try
            {
                File.Delete(_childFiles.Dequeue());
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // left for the worker's folder to be removed with it
            }
        }
    }

    private static Rrq.Workers.ChildTaskCode ChildCode(string expression, string[] names, CompiledExpression compiled)
    {
        var code = new Rrq.Workers.ChildTaskCode
        {
            Expression = expression,
            LocalNames = names,
            Submission = ChildEmitter.Emit(compiled.Script!)
                ?? throw new RrqException($"The expression '{expression}' compiled to nothing a child process could run."),
            Warnings = [.. compiled.Warnings],
        };
        var references = new List<(string Name, string Path)>();
        ChildEmitter.AddFileReferences(compiled.Script!, references);
        code.ReferenceNames = [.. references.Select(r => r.Name)];
        code.ReferencePaths = [.. references.Select(r => r.Path)];
        return code;
    }

    /// <inheritdoc />
    void Rrq.Workers.IChildCompiler.WarmUp()
    {
        var options = ScriptDefaults.Options();
        var script = Microsoft.CodeAnalysis.CSharp.Scripting.CSharpScript.Create<object>("var __rrq_warm = 1;", options, typeof(TaskGlobals))
            .ContinueWith<object>("__rrq_warm + 1", options);
        ChildEmitter.Emit(script.Previous!);
        ChildEmitter.Emit(script);
    }

    private CompiledEnvironment LoadedEnvironment() => Current().Env;

    /// <summary>The environment and its cache; the empty environment when none was loaded.</summary>
    private Loaded Current()
    {
        if (Volatile.Read(ref _loaded) is { } loaded)
        {
            return loaded;
        }
        lock (_loadGate)
        {
            return _loaded ?? Load(RrqEnvirSpec.Empty);
        }
    }

    /// <inheritdoc />
    public async Task<RrqEvaluation> EvaluateAsync(RrqTaskContext context, string expression,
        IReadOnlyDictionary<string, object?> locals, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(expression);
        ArgumentNullException.ThrowIfNull(locals);
        var (env, names, compiled) = Compiled(expression, locals);
        if (compiled.Failure is { } failure)
        {
            return failure;
        }

        env.Globals.__rrq_locals = names.Select(n => locals[n]).ToArray();
        using var _ = RrqTask.Enter(context);
        try
        {
            var state = await compiled.Script!.RunFromAsync(env.State!, cancellationToken: cancellationToken).ConfigureAwait(false);
            return RrqEvaluation.Ok(state.ReturnValue, [.. compiled.Warnings, .. context.Warnings]);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return TraceFormatter.Describe(e, env.DisplayPaths, expression, [.. compiled.Warnings, .. context.Warnings]);
        }
        finally
        {
            env.Globals.__rrq_locals = [];
        }
    }

    /// <inheritdoc />
    public void Prepare(string expression, IReadOnlyDictionary<string, object?> locals)
    {
        ArgumentNullException.ThrowIfNull(expression);
        ArgumentNullException.ThrowIfNull(locals);
        // Emitting and loading the assembly happens on first run unless asked for now.
        Compiled(expression, locals).Expression.Script?.CreateDelegate();
    }

    /// <summary>The environment, the local names in order, and the expression compiled for them (from the cache when it can).</summary>
    private (CompiledEnvironment Env, string[] Names, CompiledExpression Expression) Compiled(string expression,
        IReadOnlyDictionary<string, object?> locals)
    {
        var (env, cache) = Current();
        var names = locals.Keys.ToArray();
        var types = names.Select(n => DeclaredType(locals[n])).ToArray();
        var key = $"{env.Spec.Version}\u0001{expression}\u0001{string.Join(",", names.Zip(types, (n, t) => $"{n}:{t.AssemblyQualifiedName}"))}";
        return (env, names, cache.GetOrAdd(key, _ =>
        {
            Interlocked.Increment(ref _compiled);
            return Compile(env, expression, names, types);
        }));
    }

    private static Type DeclaredType(object? value)
    {
        if (value is null)
        {
            return typeof(object);
        }
        var t = value.GetType();
        return CSharpTypeName.IsNameable(t) ? t : typeof(object);
    }

    private static CompiledExpression Compile(CompiledEnvironment env, string expression, string[] names, Type[] types)
    {
        var code = new StringBuilder();
        code.Append("#line hidden\n");
        for (var i = 0; i < names.Length; i++)
        {
            code.Append("var ").Append(names[i]).Append(" = (").Append(CSharpTypeName.Of(types[i])).Append(")__rrq_locals[")
                .Append(i).Append("];\n");
        }
        code.Append("#line 1 \"").Append(TraceFormatter.TaskFile).Append("\"\n");
        code.Append(WithoutTrailingSemicolon(expression));

        var references = types.SelectMany(AssembliesOf).Where(a => !a.IsDynamic && !string.IsNullOrEmpty(a.Location)).Distinct();
        var options = env.Options.WithFilePath(TraceFormatter.TaskFile).AddReferences(references);
        var script = env.Script.ContinueWith<object>(code.ToString(), options);
        var diagnostics = script.Compile();
        var warnings = diagnostics.Where(d => d.Severity == DiagnosticSeverity.Warning).Select(DiagnosticText.Format).ToArray();
        var errors = diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Select(DiagnosticText.Format).ToArray();
        if (errors.Length > 0)
        {
            return new CompiledExpression(null, warnings, new RrqEvaluation
            {
                Success = false,
                Message = $"The task expression does not compile:\n  {string.Join("\n  ", errors)}",
                ExceptionType = "Rrq.CompilationError",
                From = expression.Length <= 80 ? expression : expression[..77] + "...",
                Warnings = warnings,
            });
        }
        return new CompiledExpression(script, warnings, null);
    }

    private static IEnumerable<Assembly> AssembliesOf(Type t)
    {
        yield return t.Assembly;
        if (t.HasElementType)
        {
            foreach (var a in AssembliesOf(t.GetElementType()!)) { yield return a; }
        }
        if (t.IsGenericType)
        {
            foreach (var a in t.GetGenericArguments().SelectMany(AssembliesOf)) { yield return a; }
        }
    }

    /// <summary>
    /// A script's value is its last expression without a semicolon; users often add one anyway
    /// (<c>fit_model(x, y);</c>), so a trailing semicolon after a final expression statement is dropped.
    /// </summary>
    internal static string WithoutTrailingSemicolon(string expression)
    {
        var trimmed = expression.TrimEnd();
        if (!trimmed.EndsWith(';'))
        {
            return expression;
        }
        var tree = CSharpSyntaxTree.ParseText(trimmed, CSharpParseOptions.Default.WithKind(SourceCodeKind.Script));
        var last = tree.GetCompilationUnitRoot().Members.LastOrDefault();
        if (last is GlobalStatementSyntax { Statement: ExpressionStatementSyntax stmt } && !stmt.SemicolonToken.IsMissing)
        {
            return trimmed[..^1];
        }
        return expression;
    }

    private sealed record CompiledExpression(Script<object>? Script, IReadOnlyList<string> Warnings, RrqEvaluation? Failure)
    {
        /// <summary>Where it was written for child processes, once one needed it.</summary>
        public string? ChildFile { get; set; }
    }
}
