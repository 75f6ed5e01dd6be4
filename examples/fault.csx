// The worker environment of examples.csx: what rrq's vignette keeps in fault.R.

// A least-squares line through (x, y).
public record LinearFit(double Intercept, double Slope);

public LinearFit fit_model(double[] x, double[] y)
{
    ArgumentNullException.ThrowIfNull(y);
    if (x.Length != y.Length)
    {
        throw new ArgumentException($"x has {x.Length} values but y has {y.Length}");
    }
    var mx = x.Average();
    var my = y.Average();
    var slope = x.Zip(y, (a, b) => (a - mx) * (b - my)).Sum() / x.Sum(a => (a - mx) * (a - mx));
    return new LinearFit(my - slope * mx, slope);
}
