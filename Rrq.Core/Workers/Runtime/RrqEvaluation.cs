namespace Rrq;

/// <summary>What running one task produced: a value, or the parts of an error.</summary>
public sealed record RrqEvaluation
{
    /// <summary>True when the task returned a value.</summary>
    public bool Success { get; init; }

    /// <summary>The value the expression returned (Success only).</summary>
    public object? Value { get; init; }

    /// <summary>The error message (failure only).</summary>
    public string? Message { get; init; }

    /// <summary>The full name of the exception type, or Rrq.CompilationError.</summary>
    public string? ExceptionType { get; init; }

    /// <summary>The innermost user frame, e.g. <c>fit_model(double[], double[]) at fault.csx:3</c>.</summary>
    public string? From { get; init; }

    /// <summary>The trimmed stack trace, with <c>.csx</c> files and lines.</summary>
    public string? Trace { get; init; }

    /// <summary>Warnings raised by the task and compiler warnings on its expression.</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>A successful evaluation.</summary>
    public static RrqEvaluation Ok(object? value, IReadOnlyList<string>? warnings = null) =>
        new() { Success = true, Value = value, Warnings = warnings ?? [] };
}
