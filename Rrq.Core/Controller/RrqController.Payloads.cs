using MemoryPack;
using Rrq.Store;
using Rrq.Tasks;

namespace Rrq;

public sealed partial class RrqController
{
    internal static byte[] EncodeError(TaskErrorData error) => RrqValueCodec.Serialize(error);

    /// <summary>Reads a stored task payload. Nothing read from Redis is trusted to be well formed: bytes that
    /// are not a payload (garbage, cut short, a field missing) give an <see cref="RrqValueException"/>
    /// saying so, never another exception.</summary>
    internal static TaskPayload DecodePayload(byte[]? raw) => DecodePayload(raw, null, "", "");

    /// <summary>As <see cref="DecodePayload(byte[])"/>; with <paramref name="keys"/>, its signature is checked first, as
    /// <paramref name="kind"/> ("task" or "shared") of <paramref name="queueId"/> (without, a signature is ignored).</summary>
    /// <exception cref="RrqSignatureException">Keys are given, and it is not signed by one of them for this queue.</exception>
    internal static TaskPayload DecodePayload(byte[]? raw, RrqSigningKeys? keys, string queueId, string what, string kind = "shared")
    {
        if (raw is null || raw.Length == 0)
        {
            throw new RrqValueException("it is missing (task:expr has no entry for the task)");
        }
        raw = keys is null ? RrqSigningKeys.Strip(raw) : keys.Open(kind, queueId, raw, what);
        TaskPayload? payload;
        try
        {
            payload = MemoryPackSerializer.Deserialize<TaskPayload>(raw);
        }
        catch (Exception e) when (e is MemoryPackSerializationException or ArgumentException or IndexOutOfRangeException
            or InvalidOperationException or OverflowException or FormatException or System.Text.DecoderFallbackException)
        {
            throw new RrqValueException($"its {raw.Length} bytes are not a task payload ({e.GetType().Name}: {e.Message})", e);
        }
        if (payload is null || payload.Expression is null || payload.LocalNames is null || payload.LocalValues is null
            || payload.LocalNames.Length != payload.LocalValues.Length || payload.LocalNames.Any(n => n is null)
            || payload.LocalValues.Any(v => v is null))
        {
            throw new RrqValueException($"its {raw.Length} bytes decode to an incomplete payload (an expression, and a value for each local name, are needed)");
        }
        return payload;
    }
}
