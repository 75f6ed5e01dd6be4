// Test environment: functions whose lines the tests check.
public record Fit(double Intercept, double Slope);

public Fit fit_model(double[] x, double[] y)
{
    ArgumentNullException.ThrowIfNull(y);
    var mx = x.Average();
    var my = y.Average();
    var slope = x.Zip(y, (a, b) => (a - mx) * (b - my)).Sum() / x.Sum(a => (a - mx) * (a - mx));
    return new Fit(my - slope * mx, slope);
}

public double warn_then_fail(double v)
{
    RrqTask.Warning("first warning");
    RrqTask.Warning($"v is {v}");
    throw new InvalidOperationException("gave up");
}

public string slow(int ms)
{
    System.Threading.Thread.Sleep(ms);
    return "done";
}

public int Version() => 1;

public int recurse(int n) => recurse(n + 1) + 1;

public string chatty(int n)
{
    for (var i = 1; i <= n; i++)
    {
        Console.WriteLine($"doubling {i}");
    }
    Console.Error.WriteLine("to stderr");
    return "said";
}

// The vignette's stochastic model: fails with probability p. Deterministic here: it fails while a
// counter file says it has tried fewer than `failures` times.
public double stochastic_failure(double p, string counter, int failures)
{
    var tries = File.Exists(counter) ? int.Parse(File.ReadAllText(counter)) : 0;
    File.WriteAllText(counter, (tries + 1).ToString());
    if (tries < failures)
    {
        throw new Exception($"Convergence failure - x is only {0.1 * (tries + 1):0.00}");
    }
    return 0.5728534;
}

// Hangs the first time it is called with a marker file (leaving the file), answers after that.
public string hang_first_time(string marker)
{
    if (!File.Exists(marker))
    {
        File.WriteAllText(marker, "started");
        System.Threading.Thread.Sleep(3_600_000);
    }
    return "second time lucky";
}
