namespace Rrq.Bench;

/// <summary>Timing and its statistics: every figure is a median (or a p90) of repeated runs, in milliseconds.</summary>
internal static class Measure
{
    public static async Task<double[]> Repeat(int n, Func<Task> body)
    {
        var times = new double[n];
        for (var i = 0; i < n; i++)
        {
            var sw = Stopwatch.StartNew();
            await body();
            times[i] = sw.Elapsed.TotalMilliseconds;
        }
        return times;
    }

    public static double P90(double[] xs) => xs.Order().ElementAt((int)Math.Ceiling(0.9 * xs.Length) - 1);

    public static double Median(double[] xs)
    {
        var s = xs.Order().ToArray();
        return s[s.Length / 2];
    }

    public static string Ms(double ms) => ms >= 100 ? $"{ms.ToString("0", CultureInfo.InvariantCulture)} ms" : $"{ms.ToString("0.000", CultureInfo.InvariantCulture)} ms";
}
