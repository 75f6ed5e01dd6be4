using Microsoft.Extensions.Logging;
using Rrq.Scripts;

namespace Rrq.Workers;

/// <summary>
/// Runs a worker's separate-process tasks: each in a child process of its own (<see cref="ChildPool"/>), started ahead
/// with the worker's environment compiled for it, so a task finds one ready. The worker compiles the task's expression
/// (or takes it from its cache); the child only runs it. While it runs, this waits for the child, a cancel (the
/// notification, with the stored request as the safety net) or the task's timeout, looking once a second.
/// </summary>
internal sealed class SeparateRunner(IRrqTaskEvaluator evaluator, QueueContext queue, WorkerRecord record, string workDir,
    int readyChildren, ILogger log, TimeProvider time) : IDisposable
{
    private readonly ChildPool _children = new(workDir, queue.Values.Offload, e => Logging.RrqLog.ChildNotStarted(log, e));
    private readonly Lock _gate = new();

    /// <summary>The compiled environment children load (written when the first separate-process task of an environment
    /// version comes); null before that.</summary>
    private string? _envirFile;
    private long _envirVersion;
    private int _stopped;

    /// <summary>The children running a task now, by task id.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, ChildProcess> _running = new(StringComparer.Ordinal);

    /// <summary>Set once a separate-process task has run: the worker then keeps a child ready.</summary>
    public bool Seen { get; private set; }

    /// <summary>The worker loaded environment <paramref name="version"/>: children of the old one go, and when the worker
    /// runs separate-process tasks, the new one is compiled for children now (a failure there is only logged: the next
    /// task tries again, and says why if it fails).</summary>
    public void EnvironmentChanged(long version)
    {
        lock (_gate)
        {
            _envirFile = null;
            _envirVersion = version;
        }
        if (Seen)
        {
            try
            {
                Prepare(1);
            }
            catch (Exception e) when (e is RrqException or IOException or UnauthorizedAccessException)
            {
                Logging.RrqLog.ChildrenNotPrepared(log, version, e.Message);
            }
        }
    }

    /// <summary>Stops all but <paramref name="keep"/> ready children (an idle worker keeps one).</summary>
    public void Trim(int keep) => _children.Trim(keep);

    /// <summary>Writes the environment for children (once per version) and keeps up to <paramref name="count"/>
    /// children started with it (bounded by the config). Does nothing for an evaluator that cannot compile for children.</summary>
    public void Prepare(int count)
    {
        if (evaluator is not IChildCompiler compiler)
        {
            return;
        }
        lock (_gate)
        {
            if (_envirFile is null)
            {
                _envirFile = compiler.WriteEnvironment(workDir);
                _children.UseEnvironment(_envirFile, _envirVersion);
            }
        }
        if (Volatile.Read(ref _stopped) == 0)
        {
            _children.Fill(Math.Min(count, readyChildren));
        }
    }

    /// <summary>Runs a task in a fresh child process. The worker compiles the expression (or takes it from its
    /// cache) and the child, started ahead, only runs it.</summary>
    /// <remarks><paramref name="separateNext"/>: how many separate-process tasks are next in the worker's queues;
    /// that many children and one more are started ahead, at most <see cref="RrqWorkerConfig.ReadyChildren"/>.</remarks>
    public async Task<TaskOutcome> RunAsync(WorkerSlot slot, RrqTaskContext context, Tasks.TaskPayload payload, TimeSpan? timeout,
        int separateNext)
    {
        var k = queue.Keys;
        if (evaluator is not IChildCompiler compiler)
        {
            return TaskExecution.Error(context, new RrqEvaluation
            {
                Message = $"This worker's evaluator ({evaluator.GetType().FullName}) cannot run tasks in a separate process: " +
                    "only Rrq.Scripting.RoslynTaskEvaluator compiles for child processes. Submit the task without separateProcess.",
                ExceptionType = typeof(RrqException).FullName,
            });
        }
        var (locals, unreadable) = TaskExecution.DecodeLocals(context, payload, queue.Values);
        if (unreadable is not null)
        {
            return unreadable;
        }
        ChildProcess child;
        try
        {
            Prepare(0);
            var (file, failure) = compiler.WriteTaskCode(payload.Expression, locals!, workDir);
            if (failure is not null)
            {
                return TaskExecution.Error(context, failure);   // it does not compile: no process needed
            }
            child = _children.Take();
            try
            {
                ChildTaskInput.Write(child.InputPath, file!, payload.LocalNames, locals!, payload.LocalValues, context.TraceParent);
            }
            catch
            {
                child.Dispose();   // never handed a task, it would wait for one for ever
                throw;
            }
        }
        catch (Exception e) when (e is RrqException or IOException or UnauthorizedAccessException or System.ComponentModel.Win32Exception)
        {
            return TaskExecution.Error(context, new RrqEvaluation
            {
                Message = $"Could not start the task's process: {e.Message}",
                ExceptionType = e.GetType().FullName,
            });
        }
        Seen = true;
        slot.CancelSignal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        slot.SeparateTask = context.TaskId;
        _running[context.TaskId] = child;
        try
        {
            await record.NoteFieldAsync(k.TaskPid, context.TaskId, child.Pid).ConfigureAwait(false);
            await record.LogAsync("REMOTE", $"{context.TaskId} {child.Pid}").ConfigureAwait(false);
            var logKey = k.TaskLog(context.TaskId);
            var pushes = new List<Task>();
            var exited = child.WaitForExitAsync();
            try
            {
                child.Assign(context, line =>
                {
                    lock (pushes)
                    {
                        pushes.Add(line.StartsWith(ChildTaskRunner.ProgressMarker, StringComparison.Ordinal)
                            ? record.NoteFieldAsync(k.TaskProgress, context.TaskId, Convert.FromBase64String(line[ChildTaskRunner.ProgressMarker.Length..]))
                            : record.NoteAsync(logKey, "rpush", line));
                    }
                });
            }
            catch (IOException)
            {
                // The child died before it could be handed the task (killed, or crashed while loading
                // the environment): the task has no result, as when it dies while running.
            }
            // The next tasks' processes start now, while this one runs, not after it: one for each separate-process
            // task waiting, and one for a task yet to come (tasks of a kind come in runs).
            Prepare(separateNext + 1);
            var deadline = timeout is { } t ? time.GetUtcNow() + t : (DateTimeOffset?)null;
            TaskOutcome outcome;
            while (true)
            {
                var wait = TimeSpan.FromSeconds(1);
                if (deadline is { } d && d - time.GetUtcNow() < wait)
                {
                    wait = d - time.GetUtcNow() > TimeSpan.Zero ? d - time.GetUtcNow() : TimeSpan.Zero;
                }
                await Task.WhenAny(child.Done, slot.CancelSignal.Task, Task.Delay(wait, time)).ConfigureAwait(false);
                if (child.Done.IsCompleted)
                {
                    outcome = child.ReadOutcome() is { } reported
                        ? TaskExecution.FromChild(context, reported, queue.Values)
                        : TaskExecution.NotSuccessful(context, RrqTaskStatus.Died, child.ExitDescription());
                    break;
                }
                // The notification is the fast path; the stored request is the safety net if it was lost.
                if (slot.CancelSignal.Task.IsCompleted || await queue.RunAsync(db => db.HashExistsAsync(k.TaskCancel, context.TaskId)).ConfigureAwait(false))
                {
                    child.Kill();
                    await exited.ConfigureAwait(false);
                    await record.LogAsync("CANCEL", context.TaskId).ConfigureAwait(false);
                    outcome = TaskOutcome.Failed(RrqTaskStatus.Cancelled);
                    break;
                }
                if (deadline is { } end && time.GetUtcNow() >= end)
                {
                    child.Kill();
                    await exited.ConfigureAwait(false);
                    await record.LogAsync("TIMEOUT", context.TaskId).ConfigureAwait(false);
                    outcome = TaskOutcome.Failed(RrqTaskStatus.Timeout);
                    break;
                }
            }
            Task[] pending;
            lock (pushes)
            {
                pending = [.. pushes];
            }
            await Task.WhenAll(pending).ConfigureAwait(false);
            return outcome;
        }
        finally
        {
            _running.TryRemove(context.TaskId, out _);
            slot.SeparateTask = null;
            // The child has written its outcome (or is gone): reap it off the task's clock.
            _ = Task.Run(() =>
            {
                child.WaitForExitAsync().Wait(TimeSpan.FromSeconds(5));
                child.Dispose();
            });
        }
    }

    /// <summary>Kills the children running a task now and waits up to <paramref name="wait"/> for them to end: the worker is
    /// leaving without waiting for its tasks (recorded DIED already). Done here, before the worker's process ends, rather
    /// than left to the loop that supervises each child, which may not run again before the process is gone.</summary>
    public void KillRunning(TimeSpan wait)
    {
        var children = _running.Values.ToArray();
        foreach (var child in children)
        {
            child.Kill();
        }
        try
        {
            Task.WaitAll([.. children.Select(c => c.WaitForExitAsync())], wait);
        }
        catch (Exception e) when (e is AggregateException or InvalidOperationException or ObjectDisposedException)
        {
            // One ended and was reaped by its own loop meanwhile.
        }
    }

    /// <summary>No more children are started; those ready are stopped.</summary>
    public void Dispose()
    {
        Interlocked.Exchange(ref _stopped, 1);
        _children.Dispose();
    }

    /// <summary>Removes the runner's folder, once no task of the worker runs (a task still running keeps its files there:
    /// taking them from under it would make it ERROR before its worker records it DIED).</summary>
    public void RemoveFolder()
    {
        try
        {
            if (Directory.Exists(workDir))
            {
                Directory.Delete(workDir, recursive: true);
            }
        }
        catch (IOException)
        {
            // A file still open: the folder is in the system's temporary folder.
        }
    }
}
