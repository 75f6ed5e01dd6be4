using System.Collections.Concurrent;

namespace Rrq.Scripts;

/// <summary>
/// The Lua scripts under <c>Rrq.Core/Scripts/</c>, one state transition per file, embedded in the
/// assembly and run by name: EVALSHA with the hash computed once here, and EVAL when the server has not
/// got the script (its first use, or after a restart). A line <c>--#include name</c> is replaced by
/// <c>Scripts/include/name.lua</c>: Redis scripts cannot load one another, and several transitions
/// share steps (the clock, failing an orphaned task).
/// </summary>
internal static class RrqScripts
{
    public const string TaskSubmit = "task_submit";
    public const string TaskFinish = "task_finish";
    public const string TaskDelete = "task_delete";
    public const string WorkerClaim = "worker_claim";
    public const string WorkerRegister = "worker_register";
    public const string WorkerExit = "worker_exit";
    public const string WorkerLog = "worker_log";
    public const string SchemaCheck = "schema_check";
    public const string EnvirSet = "envir_set";
    public const string WorkerLost = "worker_lost";
    public const string TaskCancel = "task_cancel";
    public const string QueueRemove = "queue_remove";
    public const string QueueDestroy = "queue_destroy";
    public const string TaskRetry = "task_retry";
    public const string TaskResolve = "task_resolve";
    public const string TaskPosition = "task_position";
    public const string SweepTurn = "sweep_turn";
    public const string ResponseDelete = "response_delete";
    public const string WorkerNote = "worker_note";
    public const string MessageSend = "message_send";
    public const string WorkerRespond = "worker_respond";
    public const string WorkerPause = "worker_pause";
    public const string WorkerDelete = "worker_delete";
    public const string WorkerBeat = "worker_beat";
    public const string WalkContinue = "walk_continue";
    public const string TombstoneDrop = "tombstone_drop";
    public const string WorkerLogTrim = "worker_log_trim";
    public const string TaskLink = "task_link";
    public const string TaskAck = "task_ack";

    private static readonly ConcurrentDictionary<string, string> Texts = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, byte[]> Hashes = new(StringComparer.Ordinal);

    /// <summary>The SHA1 of a script's text, the name EVALSHA runs it by: computed once, so that a call sends the
    /// hash without the client hashing the whole text again (a few kilobytes, on every task's path).</summary>
    public static byte[] Hash(string name, bool sharded = false) =>
        Hashes.GetOrAdd(sharded ? name + "|sharded" : name, static (_, a) => Sha1(Text(a.name, a.sharded)), (name, sharded));

#pragma warning disable CA5350   // SHA1 is how Redis names a script (EVALSHA); it protects nothing here
    private static byte[] Sha1(string text) => System.Security.Cryptography.SHA1.HashData(System.Text.Encoding.UTF8.GetBytes(text));
#pragma warning restore CA5350

    /// <summary>A script's text. With <paramref name="sharded"/> (a Redis Cluster), its notices go out with SPUBLISH, to the
    /// subscribers of the node that holds the queue's slot, rather than with PUBLISH to every node of the cluster: its
    /// <c>--#include publish</c> is include/publish_sharded.lua.</summary>
    public static string Text(string name, bool sharded = false) =>
        Texts.GetOrAdd(sharded ? name + "|sharded" : name, static (_, a) => Expand(Resource(a.name), [], a.sharded), (name, sharded));

    private static string Resource(string name)
    {
        using var stream = typeof(RrqScripts).Assembly.GetManifestResourceStream($"Rrq.Scripts.{name}.lua")
            ?? throw new InvalidOperationException($"Lua script '{name}' is not embedded in Rrq.Core.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private static string Expand(string text, HashSet<string> included, bool sharded)
    {
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            if (lines[i].StartsWith("--#include ", StringComparison.Ordinal))
            {
                var part = lines[i]["--#include ".Length..].Trim();
                var file = part == "publish" && sharded ? "publish_sharded" : part;
                lines[i] = included.Add(part) ? Expand(Resource("include." + file), included, sharded).TrimEnd('\n') : "";
            }
        }
        return string.Join('\n', lines);
    }
}
