using System.Text.Json;

namespace Rrq.Workers;

/// <summary>
/// The child side of a separate-process task (<c>rrq-worker child --image FILE</c>): load the worker
/// environment its worker compiled, wait for one task on standard input, run its compiled expression,
/// write the outcome file, exit. Nothing is compiled here. If the worker goes away (standard input
/// closes) the child ends itself.
/// </summary>
internal static class ChildTaskRunner
{
    public const int ParentGoneExitCode = 70;


    /// <summary>The last line the child prints, after its outcome file is in place: the worker need not
    /// wait for the process to finish shutting down.</summary>
    public const string DoneMarker = "\u0001rrq-child-done\u0001";

    /// <summary>Printed once the environment is loaded and the child waits for its task.</summary>
    public const string ReadyMarker = "\u0001rrq-child-ready\u0001";

    /// <summary>Starts a line carrying a progress report (base64 of the encoded value) to the worker.</summary>
    public const string ProgressMarker = "\u0001rrq-progress\u0001";

    /// <param name="runtime">Loads and runs compiled code.</param>
    /// <param name="envirFile">The compiled worker environment (<see cref="ChildEnvironment"/>).</param>
    /// <param name="input">Where the task comes from (the worker holds it open).</param>
    public static async Task<int> RunAsync(IChildRuntime runtime, string envirFile, TextReader input)
    {
        string? envirError = null;
        try
        {
            var environment = ChildEnvironment.Read(envirFile);
            runtime.LoadEnvironment(environment);
            await WarmUpAsync(runtime, environment.WarmUp, Path.Combine(Path.GetDirectoryName(Path.GetFullPath(envirFile))!,
                $"warm-up-{Environment.ProcessId}.bin")).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RrqException or IOException or UnauthorizedAccessException)
        {
            envirError = e.Message;
        }
        await Console.Out.WriteLineAsync(ReadyMarker).ConfigureAwait(false);
        await Console.Out.FlushAsync().ConfigureAwait(false);

        var line = await input.ReadLineAsync().ConfigureAwait(false);
        if (line is null)
        {
            return 0;   // the worker no longer needs this child
        }
        var parts = line.Split('\t');
        if (parts.Length != 6 || parts[0] != "RUN")
        {
            await Console.Error.WriteLineAsync($"rrq-worker child: unexpected request '{line}'").ConfigureAwait(false);
            return 2;
        }
        var (queueId, workerId, taskId, inputPath, resultPath) = (parts[1], parts[2], parts[3], parts[4], parts[5]);

        // The worker holds our standard input open while it supervises us; when it goes, so do we.
        new Thread(() =>
        {
            try
            {
                while (input.Read() != -1)
                {
                }
            }
            catch (IOException)
            {
            }
            Environment.Exit(ParentGoneExitCode);
        })
        { IsBackground = true, Name = "rrq parent watch" }.Start();

        var context = new RrqTaskContext(queueId, taskId, workerId)
        {
            // The worker turns these lines into the task's progress; they never reach its log.
            ProgressSink = bytes =>
            {
                lock (Console.Out)
                {
                    Console.Out.WriteLine(ProgressMarker + Convert.ToBase64String(bytes));
                    Console.Out.Flush();
                }
            },
        };
        var outcome = envirError is null
            ? await RunTaskAsync(runtime, context, inputPath, ChildValues(queueId)).ConfigureAwait(false)
            : new ChildOutcome(false, null, null, new RrqEvaluation
            {
                Message = $"The worker environment could not be loaded in the task's process: {envirError}",
                ExceptionType = typeof(RrqEnvirException).FullName,
            }, []);
        await Console.Out.FlushAsync().ConfigureAwait(false);
        await Console.Error.FlushAsync().ConfigureAwait(false);
        outcome.Write(resultPath);
        await Console.Out.WriteLineAsync(DoneMarker).ConfigureAwait(false);
        await Console.Out.FlushAsync().ConfigureAwait(false);
        return 0;
    }

    private static async Task<ChildOutcome> RunTaskAsync(IChildRuntime runtime, RrqTaskContext context, string inputPath,
        Store.OffloadStore values)
    {
        ChildTaskCode code;
        Dictionary<string, object?> locals;
        string? trace;
        try
        {
            string codeFile;
            (codeFile, locals, trace) = ChildTaskInput.Read(inputPath, (name, bytes) => values.Deserialize(bytes, $"the local '{name}'"));
            code = ChildTaskCode.Read(codeFile);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A corrupt value must not look like the task's own failure, nor take the child down silently.
            return new ChildOutcome(false, null, null, new RrqEvaluation
            {
                Message = $"Could not read the task's locals ({context.TaskId}): {e.Message}",
                ExceptionType = e.GetType().FullName,
            }, []);
        }
        // The task's code runs inside its trace (its worker's run span), so that what it calls joins the trace.
        using var activity = trace is null ? null : new System.Diagnostics.Activity("rrq.child").SetParentId(trace).Start();
        return Report(await runtime.RunAsync(context, code, locals).ConfigureAwait(false), values);
    }

    /// <summary>What the child reports for an evaluation: a plain value as itself (the worker encodes it),
    /// any other value encoded here (large ones go to the offload directory from here).</summary>
    private static ChildOutcome Report(RrqEvaluation evaluation, Store.OffloadStore values)
    {
        string[] warnings = [.. evaluation.Warnings];
        if (!evaluation.Success)
        {
            return new ChildOutcome(false, null, null, evaluation, warnings);
        }
        if (ChildWire.IsPlain(evaluation.Value))
        {
            return new ChildOutcome(true, evaluation.Value, null, null, warnings);
        }
        try
        {
            return new ChildOutcome(true, null, values.Serialize(evaluation.Value), null, warnings);
        }
        catch (Exception e) when (e is RrqValueException or IOException or UnauthorizedAccessException)
        {
            return new ChildOutcome(false, null, null, new RrqEvaluation
            {
                Message = $"The task's value could not be stored: {e.Message}",
                ExceptionType = typeof(RrqValueException).FullName,
                Warnings = warnings,
            }, warnings);
        }
    }

    /// <summary>Runs a throwaway task the whole way (reading compiled code, loading and running it, writing its
    /// outcome) while the child waits for its real one: the first of each in a process pays for loading and
    /// JIT-compiling the code involved, and that should not be on a task's clock.</summary>
    private static async Task WarmUpAsync(IChildRuntime runtime, ChildTaskCode? code, string outcomeFile)
    {
        if (code is null)
        {
            return;
        }
        var context = new RrqTaskContext("", "warm-up", "");
        ChildTaskInput.Write(outcomeFile, "", ["__rrq_warm"], new Dictionary<string, object?> { ["__rrq_warm"] = 1 }, [[]]);
        var (_, locals, _) = ChildTaskInput.Read(outcomeFile, (_, _) => null);
        var evaluation = await runtime.RunAsync(context, code, locals).ConfigureAwait(false);
        Report(evaluation, Store.OffloadStore.Create("", null)).Write(outcomeFile);
        _ = ChildOutcome.Read(outcomeFile);
        File.Delete(outcomeFile);
    }

    /// <summary>The child's value store: the worker passes its offload settings in RRQ_OFFLOAD(_THRESHOLD).</summary>
    private static Store.OffloadStore ChildValues(string queueId)
    {
        try
        {
            return Store.OffloadStore.Create(queueId, RrqOffload.FromEnvironment());
        }
        catch (Exception e) when (e is RrqException or ArgumentException)
        {
            Console.Error.WriteLine($"rrq-worker child: {e.Message}; large values cannot be read or written here.");
            return Store.OffloadStore.Create(queueId, null);
        }
    }
}
