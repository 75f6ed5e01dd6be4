using System.Runtime.InteropServices;
using Rrq;
using Rrq.Scripting;

// rrq-worker: runs one worker of a queue (how workers start on other machines, under an HPC
// scheduler or in a container), or runs a .csx file with `rrq-worker run FILE.csx [args]`.
return await WorkerProgram.MainAsync(args);

internal static class WorkerProgram
{
    private const string Usage = """
        Usage:
          rrq-worker <queue-id> [--config NAME] [--name ID] [--redis CONN]
          rrq-worker run <file.csx> [args...]

        Runs one worker of the queue until it is stopped (STOP message, idle timeout, SIGTERM, Ctrl-C).
          --config NAME   saved worker configuration to use (default: localhost)
          --name ID       worker id (default: a random adjective_animal name)
          --redis CONN    Redis connection string or redis:// URL (default: RRQ_REDIS, REDIS_URL, localhost:6379)

        Environment: RRQ_OFFLOAD (directory for large values), RRQ_OFFLOAD_THRESHOLD (bytes).
        Exit codes: 0 stopped cleanly, 1 could not start, 2 bad arguments, 3 stopped to be recycled
        (start it again).

        `run` executes a C# script file with Rrq referenced (#r and #load relative to the file).
        """;

    public static async Task<int> MainAsync(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help")
        {
            Console.Error.WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }
        if (args[0] == "child")
        {
            return await RunChildAsync(args);
        }
        if (args[0] == "run")
        {
            if (args.Length < 2)
            {
                Console.Error.WriteLine("rrq-worker run: give the path of a .csx file.\n\n" + Usage);
                return 2;
            }
            using var cts = new CancellationTokenSource();
            Console.CancelKeyPress += (_, e) => { e.Cancel = true; cts.Cancel(); };
            return await RrqScriptHost.RunFileAsync(args[1], args[2..], Console.Error, cts.Token);
        }
        return await RunWorkerAsync(args);
    }

    /// <summary>The process of one separate-process task, started and supervised by a worker. It runs the
    /// code its worker compiled and loads no compiler (nor anything else it does not need).</summary>
    private static async Task<int> RunChildAsync(string[] args)
    {
        if (args.Length != 3 || args[1] != "--image")
        {
            Console.Error.WriteLine("rrq-worker child: started by a worker as `rrq-worker child --image FILE`; not for direct use.");
            return 2;
        }
        return await Rrq.Workers.ChildTaskRunner.RunAsync(new Rrq.Scripting.Evaluation.ChildRuntime(), args[2], Console.In);
    }

    private static void WarmUp(Rrq.Workers.IChildCompiler compiler)
    {
        try
        {
            compiler.WarmUp();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Console.Error.WriteLine($"rrq-worker: could not warm up the compiler (the first task will compile more slowly): {e.Message}");
        }
    }

    private static async Task<int> RunWorkerAsync(string[] args)
    {
        string? queueId = null, config = "localhost", name = null, redis = null;
        var exitWithStdin = false;
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            try
            {
                switch (args[i])
                {
                    case "--config": config = Value(); break;
                    case "--name": name = Value(); break;
                    case "--redis": redis = Value(); break;
                    case "--exit-with-stdin": exitWithStdin = true; break;
                    case var a when a.StartsWith("--", StringComparison.Ordinal):
                        Console.Error.WriteLine($"rrq-worker: unknown option '{a}'.\n\n{Usage}");
                        return 2;
                    default:
                        if (queueId is not null)
                        {
                            Console.Error.WriteLine($"rrq-worker: unexpected argument '{args[i]}' (the queue id is '{queueId}').\n\n{Usage}");
                            return 2;
                        }
                        queueId = args[i];
                        break;
                }
            }
            catch (ArgumentException e)
            {
                Console.Error.WriteLine($"rrq-worker: {e.Message}\n\n{Usage}");
                return 2;
            }
        }
        if (queueId is null)
        {
            Console.Error.WriteLine("rrq-worker: give the queue id.\n\n" + Usage);
            return 2;
        }

        using var stop = new CancellationTokenSource();
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
        if (exitWithStdin)
        {
            // Spawned workers: the parent holds our stdin open; when it exits we stop after the current task.
            _ = Task.Run(() =>
            {
                try
                {
                    while (Console.In.ReadLine() is not null) { }
                }
                catch (IOException)
                {
                }
                stop.Cancel();
            });
        }

        try
        {
            await using var controller = await RrqController.ConnectAsync(queueId, redis, follow: true, timeoutTaskWait: null,
                logger: null, embedded: true, offload: null, asWorker: true, CancellationToken.None);
            // A worker process exists to run tasks: it loads and JIT-compiles the compiler before it joins the queue,
            // so its first task (in this process or a separate one) does not wait a second or two for that.
            var evaluator = new RoslynTaskEvaluator();
            WarmUp(evaluator);
            await using var worker = await RrqWorker.CreateAsync(controller, evaluator, name, config, Console.Out);
            await worker.RunAsync(stop.Token);
            return worker.Recycled is null ? 0 : RrqWorker.RecycleExitCode;
        }
        catch (Exception e) when (e is RrqException or ArgumentException)
        {
            Console.Error.WriteLine($"rrq-worker: {e.Message}");
            return 1;
        }
    }
}
