using System.CommandLine;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Loader;
using Rrq;

/// <summary>
/// <c>rrq-worker dashboard QUEUE-ID [--port N] [--host H] [--allow-actions]</c>: the dashboard of a queue as a web server
/// of its own. rrq-worker does not ask for the ASP.NET Core runtime (a worker needs none, and machines that run workers
/// may have only the .NET runtime): this command loads it from the machine's shared frameworks when it starts.
/// </summary>
internal static class DashboardCommand
{
    public static Command Create(Option<string?> redis, Option<FileInfo?> redisFile)
    {
        var queue = new Argument<string>("queue-id") { Description = "The queue to show." };
        var port = new Option<int>("--port")
        {
            Description = "The port to listen on (default 8080; 0 picks a free one).",
            HelpName = "N",
            DefaultValueFactory = _ => 8080,
        };
        var host = new Option<string>("--host")
        {
            Description = "The address to listen on (default 127.0.0.1: this machine only).",
            HelpName = "ADDRESS",
            DefaultValueFactory = _ => "127.0.0.1",
        };
        var allowActions = new Option<bool>("--allow-actions")
        {
            Description = "Let the pages retry, cancel and delete tasks and stop or kill workers (loopback --host only). Default: read-only.",
        };
        var command = new Command("dashboard", """
            Serves a queue's dashboard in a browser: the overview (counts, queues, workers, throughput, newest failures),
            tasks by status, each task (expression, value or error with its trace and .csx lines, log, retry chain) and each
            worker (info, log). Pages update live. Read-only unless --allow-actions.
            """) { queue, port, host, allowActions, redis, redisFile };
        command.SetAction(async (result, token) =>
        {
            var n = result.GetValue(port);
            if (n is < 0 or > 65535)
            {
                await Console.Error.WriteLineAsync($"rrq-worker dashboard: --port {n} is not a port (0 to 65535).");
                return 2;
            }
            if (!WorkerProgram.TryConnection(result, redis, redisFile, out var connection))
            {
                return 2;
            }
            if (AspNetCoreFolder() is not { } folder)
            {
                await Console.Error.WriteLineAsync($"rrq-worker dashboard: the ASP.NET Core runtime {Environment.Version.ToString(2)} is not " +
                    $"installed beside this .NET ({RuntimeEnvironment.GetRuntimeDirectory()}); the dashboard needs it. Install it " +
                    "(e.g. the package aspnetcore-runtime-10.0, or the .NET SDK), or serve the dashboard from an app with MapRrqDashboard.");
                return 1;
            }
            AssemblyLoadContext.Default.Resolving += (context, name) =>
                File.Exists(Path.Combine(folder, name.Name + ".dll")) ? context.LoadFromAssemblyPath(Path.Combine(folder, name.Name + ".dll")) : null;
            using var stop = new CancellationTokenSource();
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
            Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
            try
            {
                await using var obj = await WorkerProgram.ConnectReaderAsync(result.GetRequiredValue(queue), connection, token);
                await ServeAsync(obj, result.GetValue(host) ?? "127.0.0.1", n, result.GetValue(allowActions), stop.Token);
                return 0;
            }
            catch (Exception e) when (e is RrqException or ArgumentException or IOException)
            {
                await Console.Error.WriteLineAsync($"rrq-worker dashboard: {e.Message}");
                return 1;
            }
        });
        return command;
    }

    /// <summary>Kept out of line, so that nothing of ASP.NET Core is loaded before the resolver above is in place.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Task ServeAsync(RrqController obj, string host, int port, bool allowActions, CancellationToken token) =>
        Rrq.Dashboard.DashboardServer.RunAsync(obj, host, port, allowActions, Console.Out, token);

    /// <summary>The newest Microsoft.AspNetCore.App of this runtime's major.minor version in the .NET installation this
    /// process runs on, or null.</summary>
    private static string? AspNetCoreFolder()
    {
        // .../shared/Microsoft.NETCore.App/10.0.12/ → .../shared/Microsoft.AspNetCore.App/10.0.x/
        var shared = Path.GetDirectoryName(Path.GetDirectoryName(RuntimeEnvironment.GetRuntimeDirectory().TrimEnd('/', '\\')));
        var root = shared is null ? null : Path.Combine(shared, "Microsoft.AspNetCore.App");
        if (root is null || !Directory.Exists(root))
        {
            return null;
        }
        var wanted = Environment.Version.ToString(2) + ".";
        return Directory.GetDirectories(root)
            .Select(d => (Dir: d, Ok: Version.TryParse(Path.GetFileName(d).Split('-')[0], out var v), Version: v))
            .Where(x => x.Ok && Path.GetFileName(x.Dir).StartsWith(wanted, StringComparison.Ordinal))
            .OrderByDescending(x => x.Version).Select(x => x.Dir).FirstOrDefault(d => File.Exists(Path.Combine(d, "Microsoft.AspNetCore.dll")));
    }
}
