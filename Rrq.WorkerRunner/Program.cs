using System.CommandLine;
using System.CommandLine.Parsing;
using System.Runtime.InteropServices;
using Rrq;
using Rrq.Controller;
using Rrq.Scripting;

// rrq-worker: runs one worker of a queue (how workers start on other machines, under an HPC
// scheduler or in a container), or runs a .csx file with `rrq-worker run FILE.csx [args]`.
return await WorkerProgram.MainAsync(args);

internal static class WorkerProgram
{
    /// <summary>Exit code of a command line that could not be understood.</summary>
    private const int BadArguments = 2;

    /// <summary>Words that are, or will be, commands of rrq-worker: never taken for a queue id by mistake.</summary>
    private static readonly string[] Reserved = ["run", "child", "info", "acl", "dashboard", "help", "version"];

    public static async Task<int> MainAsync(string[] args)
    {
        // A separate-process task's child starts on its task's clock: it skips the command-line parser.
        if (args is ["child", "--image", var image])
        {
            return await RunChildAsync(image);
        }
        var root = Commands();
        var parsed = root.Parse(args);
        if (Misread(parsed) is { } problem)
        {
            await Console.Error.WriteLineAsync($"rrq-worker: {problem}\nSee `rrq-worker --help`.");
            return BadArguments;
        }
        // A worker and the dashboard handle SIGTERM and SIGINT themselves: a worker finishes its tasks, however long they
        // take, and exits 0 (System.CommandLine would end it after two seconds with 143 or 130).
        var own = parsed.CommandResult.Command is RootCommand || parsed.CommandResult.Command.Name == "dashboard";
        return await parsed.InvokeAsync(own ? new InvocationConfiguration { ProcessTerminationTimeout = null } : null);
    }

    private static RootCommand Commands()
    {
        var queue = new Argument<string>("queue-id") { Description = "The queue whose tasks this worker runs." };
        var config = new Option<string>("--config")
        {
            Description = "The saved worker configuration to use (WorkerConfigSave).",
            HelpName = "NAME",
            DefaultValueFactory = _ => "localhost",
        };
        var name = new Option<string?>("--name") { Description = "The worker id (default: a random adjective_animal name).", HelpName = "ID" };
        var redis = new Option<string?>("--redis")
        {
            Description = "Redis connection string or redis:// URL (default: RRQ_REDIS, REDIS_URL, localhost:6379). " +
                          "A password here is visible to every user of the machine: use RRQ_REDIS or --redis-file for one.",
            HelpName = "CONN",
        };
        var redisFile = new Option<FileInfo?>("--redis-file")
        {
            Description = "Read the connection string from this file (keep it readable by its owner only).",
            HelpName = "FILE",
        };
        var exitWithStdin = new Option<bool>("--exit-with-stdin")
        {
            Description = "Stop after the current task when standard input closes (how WorkerSpawn ties workers to their session).",
            Hidden = true,
        };
        var root = new RootCommand("""
            Runs one worker of a Rrq queue until it is stopped (STOP message, idle timeout, SIGTERM, Ctrl-C).

            Environment: RRQ_REDIS (connection), RRQ_OFFLOAD (directory for large values), RRQ_OFFLOAD_THRESHOLD (bytes).
            Exit codes: 0 stopped cleanly, 1 could not start, 2 bad arguments, 3 stopped to be recycled (start it again).
            """)
        {
            queue, config, name, redis, redisFile, exitWithStdin,
        };
        root.SetAction((result, _) =>
        {
            if (!TryConnection(result, redis, redisFile, out var connection))
            {
                return Task.FromResult(BadArguments);
            }
            return RunWorkerAsync(result.GetRequiredValue(queue), result.GetValue(config) ?? "localhost", result.GetValue(name),
                connection, result.GetValue(exitWithStdin));
        });

        var file = new Argument<FileInfo>("file.csx") { Description = "The script to run; #r and #load are relative to it." };
        var scriptArgs = new Argument<string[]>("args") { Description = "Arguments for the script (its Args).", Arity = ArgumentArity.ZeroOrMore };
        var run = new Command("run", "Runs a C# script file with Rrq referenced (a .csx session without an editor).") { file, scriptArgs };
        run.TreatUnmatchedTokensAsErrors = false;
        run.SetAction(async (result, token) =>
        {
            var path = result.GetRequiredValue(file);
            return await RrqScriptHost.RunFileAsync(path.ToString(), result.GetValue(scriptArgs) ?? [], Console.Error, token);
        });
        root.Subcommands.Add(run);

        var aclQueue = new Argument<string>("queue-id") { Description = "The queue the user is for." };
        var aclUser = new Option<string?>("--user") { Description = "The user name (default: rrq- and the queue id).", HelpName = "NAME" };
        var aclPassword = new Option<FileInfo?>("--password-file")
        {
            Description = "A file holding the user's password (the line shows only its SHA-256). Needed with --apply.",
            HelpName = "FILE",
        };
        var aclApply = new Option<bool>("--apply") { Description = "Run it on the Redis server (--redis, --redis-file or RRQ_REDIS, as an admin)." };
        var acl = new Command("acl", """
            Prints the ACL SETUSER line of a Redis user that can run this queue and nothing else: its keys and channels
            ({queue-id}:*) and exactly the commands Rrq uses. Connect the queue's controllers and workers as that user
            (user=NAME,password=... in the connection string). With --apply, runs it.
            """) { aclQueue, aclUser, aclPassword, aclApply, redis, redisFile };
        acl.SetAction(async (result, _) =>
        {
            try
            {
                var queueId = result.GetRequiredValue(aclQueue);
                var password = result.GetValue(aclPassword) is { } pf ? File.ReadAllText(pf.FullName).Trim() : null;
                if (password is { Length: 0 })
                {
                    throw new ArgumentException($"--password-file {result.GetValue(aclPassword)!.FullName} is empty.");
                }
                var line = RrqAcl.SetUserLine(queueId, result.GetValue(aclUser), password);
                if (!result.GetValue(aclApply))
                {
                    Console.WriteLine(line);
                    return 0;
                }
                if (password is null)
                {
                    throw new ArgumentException("--apply needs --password-file: the user would have no password.");
                }
                var connection = Connection(result.GetValue(redis), result.GetValue(redisFile));
                var address = RedisAddress.Resolve(connection);
                // An administrator's one command, on a connection of its own (with the rights to run ACL SETUSER): no queue,
                // so no queue's retry layer; a failure is reported as it is.
                using var mux = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(address.Configuration);
                var args = RrqAcl.SetUserArguments(queueId, result.GetValue(aclUser), password);
                await mux.GetDatabase().ExecuteAsync(args[0], args.Skip(1).Cast<object>().ToArray());
                Console.WriteLine($"Applied on {address.Redacted}: {line}");
                return 0;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
            {
                Console.Error.WriteLine($"rrq-worker: {e.Message}");
                return BadArguments;
            }
            catch (StackExchange.Redis.RedisException e)
            {
                Console.Error.WriteLine($"rrq-worker: the Redis server refused ACL SETUSER ({e.Message}). Apply it as a user allowed to run ACL, or paste the line printed without --apply into redis-cli.");
                return 1;
            }
        });
        root.Subcommands.Add(acl);
        root.Subcommands.Add(InfoCommand.Create(redis, redisFile));
        root.Subcommands.Add(DashboardCommand.Create(redis, redisFile));

        var child = new Command("child", "The process of one separate-process task; started by a worker, not by hand.") { Hidden = true };
        var childImage = new Option<string>("--image") { Required = true };
        child.Options.Add(childImage);
        child.SetAction((result, _) => RunChildAsync(result.GetRequiredValue(childImage)));
        root.Subcommands.Add(child);
        return root;
    }

    /// <summary>What is wrong with the command line, said for a person, or null. A word in the queue id's place
    /// that is a command of rrq-worker (or a near miss of one) is not taken for a queue id.</summary>
    private static string? Misread(ParseResult parsed)
    {
        if (parsed.CommandResult.Command is RootCommand && parsed.Tokens is [{ Type: TokenType.Argument } first, ..]
            && !parsed.Tokens.Any(t => t.Type == TokenType.DoubleDash))
        {
            var word = first.Value;
            if (Reserved.FirstOrDefault(c => c.Equals(word, StringComparison.OrdinalIgnoreCase)) is { } command)
            {
                return $"'{command}' is not a command of this rrq-worker (its commands: run, info, dashboard, acl). " +
                    $"To run a worker of a queue called '{word}', write `rrq-worker -- {word}`.";
            }
            if (Reserved.Where(c => c is "run" or "info" or "dashboard" or "acl").FirstOrDefault(c => Distance(c, word.ToLowerInvariant()) == 1 && word.Length >= 3) is { } near)
            {
                return $"'{word}' is not a command; did you mean `rrq-worker {near}`? " +
                    $"To run a worker of a queue called '{word}', write `rrq-worker -- {word}`.";
            }
        }
        if (parsed.Errors.Count == 0)
        {
            return null;
        }
        // An unknown option that is a near miss of a known one gets a suggestion.
        var options = parsed.CommandResult.Command.Options.Where(o => !o.Hidden).Select(o => o.Name).ToArray();
        var hints = parsed.UnmatchedTokens.Where(t => t.StartsWith("--", StringComparison.Ordinal))
            .Select(t => (Token: t, Near: options.MinBy(o => Distance(o, t))))
            .Where(x => x.Near is not null && Distance(x.Near, x.Token) <= 2)
            .Select(x => $"'{x.Token}': did you mean {x.Near}?");
        return string.Join("\n", parsed.Errors.Select(e => e.Message).Concat(hints));
    }

    /// <summary>Edit distance counting a swap of two neighbours as one edit, for near misses of command names.</summary>
    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }
        for (var j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }
        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }
        return d[a.Length, b.Length];
    }

    /// <summary>The connection string of a command's --redis or --redis-file (null: the environment's); false, with the
    /// problem printed, when they cannot be used (the command then exits with <see cref="BadArguments"/>).</summary>
    internal static bool TryConnection(ParseResult result, Option<string?> redis, Option<FileInfo?> redisFile, out string? connection)
    {
        try
        {
            connection = Connection(result.GetValue(redis), result.GetValue(redisFile));
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            Console.Error.WriteLine($"rrq-worker: {e.Message}");
            connection = null;
            return false;
        }
    }

    /// <summary>Connects a command that only reads and acts on a queue (info, dashboard): a mistyped queue id creates
    /// nothing, and an unreachable Redis fails within seconds (not a worker's long first connect).</summary>
    internal static Task<RrqController> ConnectReaderAsync(string queueId, string? connection, CancellationToken token) =>
        RrqController.ConnectAsync(queueId, connection, follow: true, timeoutTaskWait: null, logger: null, embedded: false,
            offload: null, asWorker: false, token, create: false);

    /// <summary>The connection string from --redis or --redis-file (null: the environment's). A password given
    /// on the command line works, with a warning: any user of the machine can read it in <c>ps</c>.</summary>
    internal static string? Connection(string? redis, FileInfo? file)
    {
        if (redis is not null && file is not null)
        {
            throw new ArgumentException("give --redis or --redis-file, not both.");
        }
        if (file is not null)
        {
            if (!file.Exists)
            {
                throw new ArgumentException($"--redis-file {file.FullName} does not exist.");
            }
            var text = File.ReadAllText(file.FullName).Trim();
            if (text.Length == 0)
            {
                throw new ArgumentException($"--redis-file {file.FullName} is empty: write the connection string in it.");
            }
            return text;
        }
        if (redis is not null && HasPassword(redis))
        {
            Console.Error.WriteLine("rrq-worker: warning: the password given with --redis can be read by every user of this machine " +
                "(ps, /proc). Put the connection string in RRQ_REDIS, or in a file only you can read and use --redis-file.");
        }
        return redis;
    }

    private static bool HasPassword(string redis)
    {
        try
        {
            return !string.IsNullOrEmpty(StackExchange.Redis.ConfigurationOptions.Parse(RedisAddress.Resolve(redis).Configuration, ignoreUnknown: true).Password);
        }
        catch (ArgumentException)
        {
            return redis.Contains("password", StringComparison.OrdinalIgnoreCase);
        }
    }

    /// <summary>The process of one separate-process task, started and supervised by a worker. It runs the
    /// code its worker compiled and loads no compiler (nor anything else it does not need).</summary>
    private static async Task<int> RunChildAsync(string image)
    {
        // Ctrl-C in a terminal signals the whole foreground group, the worker's children too: the worker decides what
        // becomes of their tasks (it lets them finish on the first, and kills them on a second). SIGTERM still ends a
        // child, as a user's `kill` of the pid TaskInfo shows should (the task is then DIED).
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => c.Cancel = true);
        return await Rrq.Workers.ChildTaskRunner.RunAsync(new Rrq.Scripting.Evaluation.ChildRuntime(), image, Console.In);
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

    private static async Task<int> RunWorkerAsync(string queueId, string config, string? name, string? redis, bool exitWithStdin)
    {
        using var shutdown = new WorkerShutdown(exitWithStdin);
        // A worker never starts an embedded server: one only it could reach would run nothing.
        // Everything the worker and its connection log goes to standard output as timestamped lines (the log
        // WorkerProcessLog reads): one logging provider, one path.
        using var console = new Rrq.Logging.LineLoggerProvider(Console.Out);
        RrqWorker? worker = null;
        async Task<int> RunAsync()
        {
            try
            {
                await using var controller = await RrqController.ConnectAsync(queueId, redis, follow: true, timeoutTaskWait: null,
                    logger: console.CreateLogger("Rrq"), embedded: false, offload: null, asWorker: true, CancellationToken.None);
                // From here on a stop is bounded by Redis answering, even while the worker is still starting (a worker
                // whose Redis went away as it registered would otherwise wait for it for ever).
                shutdown.Use(console.CreateLogger("Rrq"));
                shutdown.Watch(controller);
                // Connected: the credentials leave the environment task code sees (and the children it starts inherit).
                Rrq.Workers.WorkerRegistration.ForgetCredentials();
                // A worker process exists to run tasks: it loads and JIT-compiles the compiler before it joins the queue,
                // so its first task (in this process or a separate one) does not wait a second or two for that.
                var evaluator = new RoslynTaskEvaluator();
                WarmUp(evaluator);
                await using var w = await RrqWorker.CreateAsync(controller, evaluator, name, config);
                worker = w;
                await w.RunAsync(shutdown.Stopping);
                return w.Recycled is null ? 0 : RrqWorker.RecycleExitCode;
            }
            catch (Exception e) when (e is RrqException or ArgumentException)
            {
                Console.Error.WriteLine($"rrq-worker: {e.Message}");
                return 1;
            }
        }

        var run = RunAsync();
        if (await Task.WhenAny(run, shutdown.Now) == run)
        {
            return await run;
        }
        // Told to leave now (a second signal, or Redis gone while stopping): the tasks still running are not waited for.
        var (code, why) = await shutdown.Now;
        if (worker is not null && code != 1)
        {
            try
            {
                using var now = new CancellationTokenSource();
                await now.CancelAsync();
                // Records the worker EXITED and its running tasks DIED (or retried by their policy), and kills their processes.
                await worker.StopAsync($"KILLED ({why})", now.Token).WaitAsync(Rrq.Workers.WorkerRegistration.ExitBudget + TimeSpan.FromSeconds(5));
            }
            catch (Exception e) when (e is TimeoutException or RrqException or StackExchange.Redis.RedisException)
            {
                Console.Error.WriteLine($"rrq-worker: could not record that the worker left: {e.Message}");
            }
        }
        await Console.Out.FlushAsync();
        // An in-process task cannot be stopped but by ending the process: its thread goes with it.
        Environment.Exit(code);
        return code;
    }
}
