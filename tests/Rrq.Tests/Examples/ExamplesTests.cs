using System.Diagnostics;
using Rrq.Tests.Support;

namespace Rrq.Tests.Examples;

/// <summary>Runs examples.csx end to end with the rrq-worker script host, as the README does.</summary>
public class ExamplesTests
{
    [Fact]
    public async Task Examples_csx_walks_the_error_handling_section_of_the_vignette()
    {
        var root = RepositoryRoot();
        var psi = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "rrq-worker.dll"));
        psi.ArgumentList.Add("run");
        psi.ArgumentList.Add("examples.csx");
        psi.Environment["RRQ_REDIS"] = RedisServer.Instance.Address;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(3));
        var output = await stdout;
        Assert.True(p.ExitCode == 0, $"exit {p.ExitCode}\n{output}\n{await stderr}");

        var lines = output.Split('\n').Select(l => l.TrimEnd()).ToList();
        // The happy case: TRUE, COMPLETE, and the fitted coefficients.
        var happy = lines.IndexOf("wait: True");
        Assert.True(happy >= 0, output);
        Assert.Equal("status: Complete", lines[happy + 1]);
        Assert.StartsWith("LinearFit { Intercept = ", lines[happy + 2]);
        // The failing case: FALSE, then the error object naming fit_model and its line in fault.csx.
        Assert.Contains("wait: False", lines);
        Assert.Contains("  from:   fit_model(double[], double[]) at fault.csx:8", lines);
        Assert.Contains("  status: ERROR", lines);
        Assert.Contains("is RrqTaskError: True", lines);
        Assert.Contains(lines, l => l.Contains("at fit_model(double[] x, double[] y) in examples/fault.csx:line 8", StringComparison.Ordinal));
        Assert.Contains("Error in fit_model(double[], double[]) at fault.csx:8: Value cannot be null. (Parameter 'y')", lines);
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
