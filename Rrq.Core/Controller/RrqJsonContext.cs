using System.Text.Json.Serialization;

namespace Rrq.Controller;

/// <summary>
/// The JSON Rrq writes to Redis (environments, worker configurations, worker info, messages), source-generated:
/// no reflection, so Rrq works where reflection-based System.Text.Json is turned off (.NET 10 file-based apps,
/// trimmed and AOT apps).
/// </summary>
[JsonSourceGenerationOptions(WriteIndented = false)]
[JsonSerializable(typeof(RrqEnvirSpec))]
[JsonSerializable(typeof(RrqWorkerConfig))]
[JsonSerializable(typeof(RrqWorkerInfo))]
[JsonSerializable(typeof(Workers.WorkerMessage))]
internal sealed partial class RrqJsonContext : JsonSerializerContext;
