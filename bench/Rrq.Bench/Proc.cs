namespace Rrq.Bench;

/// <summary>What a process has used so far, read from /proc (Linux): CPU time, memory, children.</summary>
internal static class Proc
{
    /// <summary>CPU time (user + system, ms) a process has used so far; 0 for pid 0 or a process that is gone.</summary>
    public static double CpuMs(int pid)
    {
        try
        {
            var stat = pid == 0 ? null : File.ReadAllText($"/proc/{pid}/stat");
            if (stat is null)
            {
                return 0;
            }
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return ticks * 1000.0 / 100;   // USER_HZ is 100 on Linux
        }
        catch (IOException)
        {
            return 0;
        }
    }

    /// <summary>CPU time (ms) of a process and of the children it has reaped.</summary>
    public static double CpuMsWithChildren(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return Enumerable.Range(11, 4).Sum(i => long.Parse(f[i], CultureInfo.InvariantCulture)) * 1000.0 / 100;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    public static int[] ChildPids(int pid)
    {
        try
        {
            // Each thread lists the children it started.
            return Directory.GetDirectories($"/proc/{pid}/task")
                .SelectMany(t => File.ReadAllText(Path.Combine(t, "children")).Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Select(x => int.Parse(x, CultureInfo.InvariantCulture)).Distinct().ToArray();
        }
        catch (IOException)
        {
            return [];
        }
    }

    public static long RssKb(int pid) => ProcKb($"/proc/{pid}/status", "VmRSS:");

    /// <summary>A process's proportional set size (its share of shared pages counted): what it adds to the machine.</summary>
    public static long PssKb(int pid) => ProcKb($"/proc/{pid}/smaps_rollup", "Pss:");

    public static long ProcKb(string file, string field)
    {
        try
        {
            var line = File.ReadAllLines(file).FirstOrDefault(l => l.StartsWith(field, StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return 0;
        }
    }
}
