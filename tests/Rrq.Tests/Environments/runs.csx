// Test environment for Redis faults: each run of a task leaves a mark in a folder, so a test can count
// how many times each task ran.
public int mark(string dir, int i, int ms)
{
    System.IO.File.AppendAllText(System.IO.Path.Combine(dir, i.ToString()), "x");
    if (ms > 0)
    {
        System.Threading.Thread.Sleep(ms);
    }
    return i * 2;
}
