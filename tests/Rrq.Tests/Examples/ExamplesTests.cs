using Rrq.Tests.Support;

namespace Rrq.Tests.Examples;

/// <summary>Runs examples.csx end to end with the examples app, as the README's first command does.</summary>
public class ExamplesTests
{
    [Fact]
    public async Task Examples_csx_walks_the_vignette_errors_separate_processes_and_lost_workers()
    {
        var root = RepositoryRoot();
        // The README's first command, in Release as the rest of the tests (the examples app runs the script).
        var output = (await Dotnet.RunOkAsync(root, TimeSpan.FromMinutes(5), "run", "--project", "examples", "-c", "Release")).Output;

        var lines = output.Split('\n').Select(l => l.TrimEnd()).ToList();
        // The happy case: TRUE, COMPLETE, and the fitted coefficients.
        var happy = lines.IndexOf("wait: True");
        Assert.True(happy >= 0, output);
        Assert.Equal("status: COMPLETE", lines[happy + 1]);
        Assert.StartsWith("LinearFit { Intercept = ", lines[happy + 2]);
        // The failing case: FALSE, then the error object naming fit_model and its line in fault.csx.
        Assert.Contains("wait: False", lines);
        Assert.Contains("  from:   fit_model(double[], double[]) at fault.csx:8", lines);
        Assert.Contains("  status: ERROR", lines);
        Assert.Contains("is RrqTaskError: True", lines);
        Assert.Contains(lines, l => l.Contains("at fit_model(double[] x, double[] y) in examples/fault.csx:line 8", StringComparison.Ordinal));
        Assert.Contains("Error in fit_model(double[], double[]) at fault.csx:8: Value cannot be null. (Parameter 'y')", lines);

        // Separate processes: a killed task process makes the task DIED, with no trace.
        var separate = lines.IndexOf("## Increasing resilience via separate processes");
        var losses = lines.IndexOf("## Loss of workers");
        Assert.True(separate > 0 && losses > separate, output);
        var section = lines[separate..losses];
        Assert.Contains("status: DIED", section);
        Assert.Contains(section, l => l.StartsWith("  error:  Task not successful: DIED (its process", StringComparison.Ordinal)
            && l.EndsWith("was killed by signal 9 (SIGKILL) before the task finished)", StringComparison.Ordinal));
        Assert.Contains("trace: null", section);

        // Lost workers: RUNNING/BUSY before and after the kill, then LOST with its task DIED.
        var lost = lines[losses..];
        Assert.Equal(2, lost.Count(l => l == "status: RUNNING"));
        Assert.Equal(2, lost.Count(l => l.EndsWith(": BUSY", StringComparison.Ordinal)));
        Assert.Contains("Lost 1 worker:", lost);
        Assert.Contains("Orphaning 1 task:", lost);
        Assert.Contains("status: DIED", lost);
        Assert.Contains(lost, l => l.EndsWith(": LOST", StringComparison.Ordinal));
        Assert.Contains(lost, l => l.StartsWith("  error:  Task not successful: DIED (its worker", StringComparison.Ordinal)
            && l.Contains("was declared lost", StringComparison.Ordinal));

        // Retries: two convergence failures, then a value read through every id of the chain.
        var retries = lines.IndexOf("## Retrying tasks");
        var retry = lines[retries..];
        Assert.Equal(2, retry.Count(l => l == "wait: False"));
        Assert.Single(retry, l => l == "wait: True");
        Assert.Contains("  error:  Convergence failure - x is only 0.31", retry);
        Assert.Contains("  error:  Convergence failure - x is only 0.45", retry);
        Assert.Contains(retry, l => l.StartsWith("results: 0.9417104", StringComparison.Ordinal) && l.Split(' ').Length == 4 && l.Split(' ').Skip(1).Distinct().Count() == 1);
        Assert.Contains("status: COMPLETE COMPLETE COMPLETE", retry);
        Assert.Contains("status (follow: false): MOVED MOVED COMPLETE", retry);
        Assert.Contains(retry, l => l.StartsWith("t1 moved: up: [], down: [", StringComparison.Ordinal));
        Assert.Contains("status after delete: MISSING MISSING MISSING", retry);
    }

    internal static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Rrq.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("cannot find the repository root (Rrq.sln) above " + AppContext.BaseDirectory);
    }
}
