using System.Text.Json;

namespace Rrq.Workers;

/// <summary>
/// The child side of a separate-process task (<c>rrq-worker child --envir FILE</c>): load the
/// environment, read one task from standard input, run it, write the outcome file, exit. If the
/// worker goes away (standard input closes) the child ends itself.
/// </summary>
internal static class ChildTaskRunner
{
    public const int ParentGoneExitCode = 70;

    /// <summary>The last line the child prints, after its outcome file is in place: the worker need not
    /// wait for the process to finish shutting down.</summary>
    public const string DoneMarker = "\u0001rrq-child-done\u0001";

    /// <summary>Starts a line carrying a progress report (base64 of the encoded value) to the worker.</summary>
    public const string ProgressMarker = "\u0001rrq-progress\u0001";

    /// <param name="evaluator">Runs the task.</param>
    /// <param name="envirFile">The worker environment (JSON).</param>
    /// <param name="warmFile">The payload of the last task the worker ran in a separate process, or null: its
    /// expression is compiled while the child waits, as the next task is often another of the same kind.</param>
    /// <param name="input">Where the task comes from (the worker holds it open).</param>
    public static async Task<int> RunAsync(IRrqTaskEvaluator evaluator, string envirFile, string? warmFile, TextReader input)
    {
        string? envirError = null;
        try
        {
            var spec = JsonSerializer.Deserialize<RrqEnvirSpec>(await File.ReadAllTextAsync(envirFile).ConfigureAwait(false),
                RrqController.JsonOptions) ?? RrqEnvirSpec.Empty;
            evaluator.LoadEnvironment(spec);
            if (warmFile is not null)
            {
                PrepareLike(evaluator, warmFile);
            }
            // While the worker has no task for us yet, run a throwaway task the whole way (payload, locals,
            // compile, run, encode): the first of each in a process pays for loading and JIT-compiling
            // the code involved, and that should not be on a real task's clock.
            var warmUp = new Tasks.TaskPayload
            {
                Expression = "__rrq_warm + 1",
                LocalNames = ["__rrq_warm"],
                LocalValues = [Store.RrqValueCodec.Serialize(1)],
            };
            await TaskExecution.RunAsync(evaluator, new RrqTaskContext("", "warm-up", ""),
                MemoryPack.MemoryPackSerializer.Serialize(warmUp), Store.OffloadStore.Create("", null), CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RrqEnvirException or IOException or JsonException)
        {
            envirError = e.Message;
        }

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
        var (queueId, workerId, taskId, payloadPath, resultPath) = (parts[1], parts[2], parts[3], parts[4], parts[5]);

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
            ? await TaskExecution.RunAsync(evaluator, context, await File.ReadAllBytesAsync(payloadPath).ConfigureAwait(false),
                    ChildValues(queueId), CancellationToken.None)
                .ConfigureAwait(false)
            : TaskExecution.Error(context, new RrqEvaluation
            {
                Message = $"The worker environment could not be loaded in the task's process: {envirError}",
                ExceptionType = typeof(RrqEnvirException).FullName,
            });
        await Console.Out.FlushAsync().ConfigureAwait(false);
        await Console.Error.FlushAsync().ConfigureAwait(false);

        // Written aside and renamed, so the worker never reads half an outcome.
        var tmp = resultPath + ".tmp";
        await File.WriteAllBytesAsync(tmp, EncodeOutcome(outcome)).ConfigureAwait(false);
        File.Move(tmp, resultPath, overwrite: true);
        await Console.Out.WriteLineAsync(DoneMarker).ConfigureAwait(false);
        await Console.Out.FlushAsync().ConfigureAwait(false);
        return 0;
    }

    /// <summary>Compiles the expression of an earlier task for locals of the same types, without running it.
    /// Anything wrong with that payload only means there is nothing to prepare.</summary>
    private static void PrepareLike(IRrqTaskEvaluator evaluator, string warmFile)
    {
        try
        {
            var payload = RrqController.DecodePayload(File.ReadAllBytes(warmFile));
            evaluator.Prepare(payload.Expression, RrqController.DecodeLocals(payload, Store.OffloadStore.Create("", null)));
        }
        catch (Exception e) when (e is IOException or MemoryPack.MemoryPackSerializationException or RrqException or RrqValueException)
        {
        }
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

    // The outcome file: one byte (0 COMPLETE, 1 ERROR), the warnings (MemoryPack string[]) with their
    // length in four bytes, then the result.
    private static byte[] EncodeOutcome(TaskOutcome outcome)
    {
        var warnings = MemoryPack.MemoryPackSerializer.Serialize(outcome.Warnings.ToArray());
        var bytes = new byte[1 + 4 + warnings.Length + outcome.Result.Length];
        bytes[0] = outcome.Status == RrqTaskStatus.Complete ? (byte)0 : (byte)1;
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(1), warnings.Length);
        warnings.CopyTo(bytes, 5);
        outcome.Result.CopyTo(bytes, 5 + warnings.Length);
        return bytes;
    }

    public static TaskOutcome DecodeOutcome(byte[] bytes)
    {
        var n = System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(1));
        var warnings = MemoryPack.MemoryPackSerializer.Deserialize<string[]>(bytes.AsSpan(5, n)) ?? [];
        return new(bytes[0] == 0 ? RrqTaskStatus.Complete : RrqTaskStatus.Error, bytes[(5 + n)..], bytes[0] == 0 ? null : "failed in its process")
        {
            Warnings = warnings,
        };
    }
}
