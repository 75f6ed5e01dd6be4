namespace Rrq.Workers;

/// <summary>A message to a worker, as stored in its message list (JSON).</summary>
internal sealed record WorkerMessage(string Id, string Command, string? Args);
