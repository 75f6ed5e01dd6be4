using MemoryPack;

namespace Rrq.Workers;

/// <summary>A message to a worker, as stored in its message list (JSON).</summary>
internal sealed record WorkerMessage(string Id, string Command, string? Args);

/// <summary>A worker's response, as stored in its response hash: the result is encoded by the value
/// codec (so EVAL can answer with any value a task could), or an error message.</summary>
[MemoryPackable]
internal sealed partial record WorkerResponseData(string Id, string Command, byte[]? Result, string? Error);
