namespace Rrq.Workers;

/// <summary>Orders strings with digit runs compared as numbers, so w_2 comes before w_10.</summary>
internal sealed class NaturalComparer : IComparer<string>
{
    public static NaturalComparer Instance { get; } = new();

    public int Compare(string? x, string? y)
    {
        if (x is null || y is null)
        {
            return string.CompareOrdinal(x, y);
        }
        int i = 0, j = 0;
        while (i < x.Length && j < y.Length)
        {
            if (char.IsDigit(x[i]) && char.IsDigit(y[j]))
            {
                var si = i; while (i < x.Length && char.IsDigit(x[i])) { i++; }
                var sj = j; while (j < y.Length && char.IsDigit(y[j])) { j++; }
                var a = x[si..i].TrimStart('0');
                var b = y[sj..j].TrimStart('0');
                var c = a.Length != b.Length ? a.Length.CompareTo(b.Length) : string.CompareOrdinal(a, b);
                if (c != 0) { return c; }
            }
            else
            {
                var c = x[i].CompareTo(y[j]);
                if (c != 0) { return c; }
                i++; j++;
            }
        }
        return (x.Length - i).CompareTo(y.Length - j);
    }
}
