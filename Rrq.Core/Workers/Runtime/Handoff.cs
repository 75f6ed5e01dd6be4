using Rrq.Scripts;
using StackExchange.Redis;

namespace Rrq.Workers;

/// <summary>
/// A task handed to a parked worker at submission (include/handoff.lua): it came on the worker's own channel as
/// "handoff\n&lt;envir version&gt;\n&lt;task id&gt;\n&lt;local flag&gt;\n&lt;timeout&gt;\n&lt;payload&gt;", and is
/// RUNNING on the worker already, under the hand-off token until the worker acknowledges it (task_ack.lua).
/// </summary>
internal sealed class Handoff
{
    private Handoff(string taskId, ClaimReply reply)
    {
        TaskId = taskId;
        Reply = reply;
    }

    /// <summary>The task's id.</summary>
    public string TaskId { get; }

    /// <summary>The task as a claim's reply gives it.</summary>
    public ClaimReply Reply { get; }

    private static ReadOnlySpan<byte> Prefix => "handoff\n"u8;

    /// <summary>The hand-off a channel message carries, or null for any other message.</summary>
    public static Handoff? TryParse(RedisValue message)
    {
        if (message.IsNull || message.Length() <= Prefix.Length)
        {
            return null;
        }
        var bytes = (ReadOnlyMemory<byte>)message;
        if (!bytes.Span.StartsWith(Prefix))
        {
            return null;
        }
        var rest = bytes[Prefix.Length..];
        var fields = new string[4];
        for (var i = 0; i < fields.Length; i++)
        {
            var end = rest.Span.IndexOf((byte)'\n');
            if (end < 0)
            {
                return null;   // not a message this version sends
            }
            fields[i] = System.Text.Encoding.UTF8.GetString(rest.Span[..end]);
            rest = rest[(end + 1)..];
        }
        if (!long.TryParse(fields[0], System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var version))
        {
            return null;
        }
        TimeSpan? timeout = fields[3] is { Length: > 0 } secs
            ? TimeSpan.FromSeconds(double.Parse(secs, System.Globalization.CultureInfo.InvariantCulture)) : null;
        var reply = ClaimReply.ForTask(version, new ClaimedTask(fields[1], rest.ToArray(), fields[2] == "FALSE", timeout, 0));
        return new Handoff(fields[1], reply);
    }
}
