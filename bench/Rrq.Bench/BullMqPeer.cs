namespace Rrq.Bench;

/// <summary>
/// BullMQ, the peer measured in the same run against the same server (bench/peers/bullmq/bench.mjs): installed with npm
/// into that folder on first use, run with the machine's Node.js. Without Node.js or npm, its rows say so and the rest
/// of the benchmark runs.
/// </summary>
internal sealed class BullMqPeer(System.Net.EndPoint redis)
{
    private readonly string? _dir = Find();
    private bool _installed;
    private string? _unavailable;

    public string Name => _dir is not null && File.Exists(Path.Combine(_dir, "node_modules", "bullmq", "package.json"))
        ? "BullMQ " + System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir, "node_modules", "bullmq", "package.json")))
            .RootElement.GetProperty("version").GetString()
        : "BullMQ";

    private static string? Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "peers", "bullmq");
            if (File.Exists(Path.Combine(candidate, "bench.mjs")))
            {
                return candidate;
            }
        }
        return null;
    }

    /// <summary>Runs one workload (see bench.mjs); its figures, or null when the peer cannot run (the reason printed once).</summary>
    public async Task<System.Text.Json.JsonElement?> RunAsync(string mode, params object[] args)
    {
        if (!_installed && _unavailable is null)
        {
            _unavailable = _dir is null ? "bench/peers/bullmq not found" : await InstallAsync(_dir);
            _installed = _unavailable is null;
            if (!_installed)
            {
                Console.WriteLine($"BullMQ: not measured ({_unavailable})");   // said once
            }
        }
        if (!_installed)
        {
            return null;
        }
        var (host, port) = redis switch
        {
            System.Net.IPEndPoint ip => (ip.Address.ToString(), ip.Port),
            System.Net.DnsEndPoint dns => (dns.Host, dns.Port),
            _ => throw new InvalidOperationException($"Unexpected Redis end point {redis}"),
        };
        var (code, output) = await RunProcessAsync("node", [Path.Combine(_dir!, "bench.mjs"), mode, host, port.ToString(CultureInfo.InvariantCulture),
            .. args.Select(a => Convert.ToString(a, CultureInfo.InvariantCulture)!)], _dir!);
        var last = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "";
        if (code != 0 || !last.StartsWith('{'))
        {
            Console.WriteLine($"BullMQ {mode}: failed (exit {code}): {last}");
            return null;
        }
        return System.Text.Json.JsonDocument.Parse(last).RootElement;
    }

    private static async Task<string?> InstallAsync(string dir)
    {
        if (File.Exists(Path.Combine(dir, "node_modules", "bullmq", "package.json")))
        {
            return null;
        }
        try
        {
            var (code, output) = await RunProcessAsync("npm", ["ci", "--no-audit", "--no-fund"], dir);
            return code == 0 ? null : $"npm ci failed: {output.Trim().Split('\n').LastOrDefault()}";
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return $"npm: {e.Message}";
        }
    }

    private static async Task<(int Code, string Output)> RunProcessAsync(string file, string[] args, string dir)
    {
        var psi = new ProcessStartInfo(file) { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            return (-1, "timed out after 10 minutes");
        }
        return (p.ExitCode, await stdout + await stderr);
    }
}
