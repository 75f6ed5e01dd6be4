// The second environment of examples.csx: rrq's fault2.R. A "model" that fails to converge with
// probability p. Its random numbers come from one generator per worker process, seeded so that the
// walk-through prints the same story every time (two failures, then success).
static readonly Random rng = new Random(26);

public double stochastic_failure(double p)
{
    var x = rng.NextDouble();
    if (x < p)
    {
        throw new Exception($"Convergence failure - x is only {x:0.00}");
    }
    return x;
}
