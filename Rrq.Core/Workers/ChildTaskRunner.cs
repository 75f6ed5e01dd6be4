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

    public static async Task<int> RunAsync(IRrqTaskEvaluator evaluator, string envirFile, TextReader input)
    {
        string? envirError = null;
        try
        {
            var spec = JsonSerializer.Deserialize<RrqEnvirSpec>(await File.ReadAllTextAsync(envirFile).ConfigureAwait(false),
                RrqController.JsonOptions) ?? RrqEnvirSpec.Empty;
            evaluator.LoadEnvironment(spec);
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

        var context = new RrqTaskContext(queueId, taskId, workerId);
        var outcome = envirError is null
            ? await TaskExecution.RunAsync(evaluator, context, await File.ReadAllBytesAsync(payloadPath).ConfigureAwait(false), CancellationToken.None)
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
        return 0;
    }

    private static byte[] EncodeOutcome(TaskOutcome outcome)
    {
        var bytes = new byte[outcome.Result.Length + 1];
        bytes[0] = outcome.Status == RrqTaskStatus.Complete ? (byte)0 : (byte)1;
        outcome.Result.CopyTo(bytes, 1);
        return bytes;
    }

    public static TaskOutcome DecodeOutcome(byte[] bytes) =>
        new(bytes[0] == 0 ? RrqTaskStatus.Complete : RrqTaskStatus.Error, bytes[1..], bytes[0] == 0 ? null : "failed in its process");
}
