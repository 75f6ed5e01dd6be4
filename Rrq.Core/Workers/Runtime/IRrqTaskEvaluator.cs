namespace Rrq;

/// <summary>
/// What a worker uses to run task expressions. <c>Rrq.Core</c> has no compiler; the Roslyn
/// implementation is <c>Rrq.Scripting.RoslynTaskEvaluator</c>. A worker calls it from one
/// thread at a time.
/// </summary>
public interface IRrqTaskEvaluator
{
    /// <summary>Compiles and runs an environment; later tasks run inside it. On failure it throws
    /// <see cref="RrqEnvirException"/> and the previous environment stays in force.</summary>
    void LoadEnvironment(RrqEnvirSpec spec);

    /// <summary>Compiles (or takes from its cache) and runs one expression with its locals.
    /// Never throws for a failing task: failures come back with <see cref="RrqEvaluation.Success"/> false.</summary>
    Task<RrqEvaluation> EvaluateAsync(RrqTaskContext context, string expression,
        IReadOnlyDictionary<string, object?> locals, CancellationToken cancellationToken);

    /// <summary>Compiles an expression for locals like these, ready to run, without running it (to have it
    /// compiled before a task of that kind comes). Does nothing by default.</summary>
    void Prepare(string expression, IReadOnlyDictionary<string, object?> locals)
    {
    }

    /// <summary>How many distinct expressions this evaluator has compiled (code that stays loaded for
    /// the life of the process); used to recycle workers (<see cref="RrqWorkerConfig.RecycleAfterCompiles"/>).</summary>
    int CompiledCount => 0;
}
