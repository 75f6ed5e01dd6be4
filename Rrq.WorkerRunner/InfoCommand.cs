using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Rrq;
using Spectre.Console;
using Spectre.Console.Rendering;

/// <summary><c>rrq-worker info QUEUE-ID [--watch] [--json]</c>: the queue at a glance, for a person at a terminal or a
/// script (<see cref="RrqController.Summary"/>, which never scans every task).</summary>
internal static class InfoCommand
{
    public static Command Create(Option<string?> redis, Option<FileInfo?> redisFile)
    {
        var queue = new Argument<string>("queue-id") { Description = "The queue to show." };
        var json = new Option<bool>("--json") { Description = "Print it as one JSON object (with --watch: one per line)." };
        var watch = new Option<bool>("--watch") { Description = "Show it again every --interval seconds until Ctrl-C." };
        var interval = new Option<double>("--interval")
        {
            Description = "Seconds between two reads with --watch (default 2).",
            HelpName = "SECONDS",
            DefaultValueFactory = _ => 2,
        };
        var failures = new Option<int>("--failures")
        {
            Description = "How many of the newest failures to list (0 to 100; default 10).",
            HelpName = "N",
            DefaultValueFactory = _ => 10,
        };
        var minutes = new Option<int>("--minutes")
        {
            Description = "Minutes of throughput to show (1 to 1440; default 15).",
            HelpName = "N",
            DefaultValueFactory = _ => 15,
        };
        var info = new Command("info", """
            Shows a queue: its named queues and their lengths, its workers (status, tasks, load, last heartbeat), how many
            tasks are in each status, tasks finished per minute and the newest failures. It reads the queue's indexes, never
            every task, so it is as quick on a million tasks as on ten.
            """) { queue, json, watch, interval, failures, minutes, redis, redisFile };
        info.SetAction(async (result, token) =>
        {
            var every = result.GetValue(interval);
            var nFailures = result.GetValue(failures);
            var nMinutes = result.GetValue(minutes);
            if (every is <= 0 or > 3600 || nFailures is < 0 or > 100 || nMinutes is < 1 or > 1440)
            {
                await Console.Error.WriteLineAsync("rrq-worker info: --interval takes 0 < SECONDS <= 3600, --failures 0 to 100, --minutes 1 to 1440.");
                return 2;
            }
            if (!WorkerProgram.TryConnection(result, redis, redisFile, out var connection))
            {
                return 2;
            }
            try
            {
                await using var obj = await WorkerProgram.ConnectReaderAsync(result.GetRequiredValue(queue), connection, token);
                return await ShowAsync(obj, result.GetValue(json), result.GetValue(watch), TimeSpan.FromSeconds(every), nFailures, nMinutes, token);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return 0;
            }
            catch (Exception e) when (e is RrqException or ArgumentException)
            {
                await Console.Error.WriteLineAsync($"rrq-worker: {e.Message}");
                return 1;
            }
        });
        return info;
    }

    private static async Task<int> ShowAsync(RrqController obj, bool json, bool watch, TimeSpan every, int failures, int minutes,
        CancellationToken token)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });
        if (Console.IsOutputRedirected)
        {
            console.Profile.Width = 160;   // a pipe or a file: no terminal to fit, and nothing cut short
        }
        if (!watch)
        {
            var summary = await obj.SummaryAsync(failures, minutes, token);
            if (json)
            {
                Console.WriteLine(ToJson(summary, obj.RedisConfiguration).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            }
            else
            {
                console.Write(Render(summary, obj.RedisConfiguration));
            }
            return 0;
        }
        if (json || !console.Profile.Capabilities.Interactive || Console.IsOutputRedirected)
        {
            // Not a terminal to redraw: one snapshot after another (JSON: one per line).
            while (!token.IsCancellationRequested)
            {
                var summary = await obj.SummaryAsync(failures, minutes, token);
                if (json)
                {
                    Console.WriteLine(ToJson(summary, obj.RedisConfiguration).ToJsonString());
                }
                else
                {
                    console.Write(Render(summary, obj.RedisConfiguration));
                    console.WriteLine();
                }
                await Console.Out.FlushAsync(token);
                await Task.Delay(every, token);
            }
            return 0;
        }
        var first = await obj.SummaryAsync(failures, minutes, token);
        await console.Live(Render(first, obj.RedisConfiguration)).AutoClear(false).StartAsync(async live =>
        {
            while (!token.IsCancellationRequested)
            {
                await Task.Delay(every, token);
                live.UpdateTarget(Render(await obj.SummaryAsync(failures, minutes, token), obj.RedisConfiguration));
            }
        });
        return 0;
    }

    /// <summary>The summary as text tables: a heading, counts, queues, workers, throughput and failures.</summary>
    internal static IRenderable Render(RrqQueueSummary s, string redis)
    {
        var parts = new List<IRenderable>
        {
            new Markup($"[bold]{Markup.Escape(s.QueueId)}[/] on {Markup.Escape(redis)} at {s.Time.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z"),
        };
        var c = s.Counts;
        var split = string.Join(", ", c.FailedByStatus.Where(p => p.Value > 0).Select(p => $"{p.Key.ToRedisString()} {p.Value}"));
        parts.Add(new Markup(
            $"PENDING [blue]{c.Pending}[/]  DEFERRED [grey]{c.Deferred}[/]  RUNNING [yellow]{c.Running}[/]  COMPLETE [green]{c.Complete}[/]  " +
            $"FAILED [red]{c.Failed}[/]{(split.Length == 0 ? "" : $" ({split}{(c.FailedSplitExact ? "" : $"; of the newest {RrqController.SummarySplitLimit:N0}")})")}"));

        var queues = new Table().Border(TableBorder.Simple).AddColumns("queue", "pending", "delayed", "idle workers");
        foreach (var q in s.Queues)
        {
            queues.AddRow(Markup.Escape(q.Name), Num(q.Pending), Num(q.Delayed), Num(q.IdleWorkers));
        }
        parts.Add(queues);

        var workers = new Table().Border(TableBorder.Simple).AddColumns("worker", "status", "tasks", "load", "host:pid", "heartbeat", "last log");
        foreach (var w in s.Workers)
        {
            workers.AddRow(Markup.Escape(w.WorkerId), StatusMarkup(w.Status.ToString().ToUpperInvariant()),
                Markup.Escape(w.Tasks.Count == 0 ? "-" : string.Join(" ", w.Tasks.Select(Short))),
                $"{w.Tasks.Count}/{w.Info?.Concurrency ?? 1}",
                Markup.Escape(w.Info is { } i ? $"{i.Hostname}:{i.Pid}{(i.SlurmJob is null ? "" : $" (job {i.SlurmJob})")}" : "?"),
                w.LastHeartbeat is { } hb ? $"{hb.TotalSeconds:0.0} s ago" : "-",
                Markup.Escape(w.LastLog is { } l ? $"{Ago(s.Time - l.Time)} {l.Command} {Cut(l.Message, 40)}".TrimEnd() : "-"));
        }
        if (s.Workers.Count == 0)
        {
            workers.AddRow("[grey](no workers)[/]", "", "", "", "", "", "");
        }
        parts.Add(workers);

        parts.Add(new Markup($"finished per minute, last {s.Throughput.Count} (oldest first): " +
            $"[green]{Spark(s.Throughput.Select(p => p.Complete))}[/] complete {s.Throughput.Sum(p => p.Complete)}, " +
            $"[red]{Spark(s.Throughput.Select(p => p.Failed))}[/] failed {s.Throughput.Sum(p => p.Failed)}"));

        if (s.RecentFailures.Count > 0)
        {
            var table = new Table().Border(TableBorder.Simple).Title("newest failures").AddColumns("task", "status", "finished", "expression", "error");
            foreach (var f in s.RecentFailures)
            {
                table.AddRow(Markup.Escape(f.Id), StatusMarkup(f.Status.ToRedisString()),
                    f.Complete is { } t ? Ago(s.Time - t) : "-", Markup.Escape(f.Expression ?? ""), Markup.Escape(f.Error ?? ""));
            }
            parts.Add(table);
        }
        return new Rows(parts);
    }

    /// <summary>The summary as JSON: statuses as rrq writes them (PENDING, ...), times as ISO 8601, durations in seconds.</summary>
    internal static JsonObject ToJson(RrqQueueSummary s, string redis) => new()
    {
        ["queueId"] = s.QueueId,
        ["redis"] = redis,
        ["time"] = s.Time.ToString("O", CultureInfo.InvariantCulture),
        ["counts"] = new JsonObject
        {
            ["PENDING"] = s.Counts.Pending,
            ["DEFERRED"] = s.Counts.Deferred,
            ["RUNNING"] = s.Counts.Running,
            ["COMPLETE"] = s.Counts.Complete,
            ["FAILED"] = s.Counts.Failed,
            ["failedByStatus"] = new JsonObject(s.Counts.FailedByStatus.Select(p => KeyValuePair.Create(p.Key.ToRedisString(), (JsonNode?)p.Value))),
            ["failedSplitExact"] = s.Counts.FailedSplitExact,
        },
        ["queues"] = new JsonArray([.. s.Queues.Select(q => (JsonNode)new JsonObject
        {
            ["name"] = q.Name, ["pending"] = q.Pending, ["delayed"] = q.Delayed, ["idleWorkers"] = q.IdleWorkers,
        })]),
        ["workers"] = new JsonArray([.. s.Workers.Select(w => (JsonNode)new JsonObject
        {
            ["id"] = w.WorkerId,
            ["status"] = w.Status.ToString().ToUpperInvariant(),
            ["tasks"] = new JsonArray([.. w.Tasks.Select(t => (JsonNode)t)]),
            ["concurrency"] = w.Info?.Concurrency ?? 1,
            ["load"] = w.Load,
            ["hostname"] = w.Info?.Hostname,
            ["pid"] = w.Info?.Pid,
            ["slurmJob"] = w.Info?.SlurmJob,
            ["config"] = w.Info?.Config,
            ["started"] = w.Info?.Started.ToString("O", CultureInfo.InvariantCulture),
            ["lastHeartbeatSeconds"] = w.LastHeartbeat?.TotalSeconds,
            ["lastLog"] = w.LastLog is { } l ? new JsonObject
            {
                ["time"] = l.Time.ToString("O", CultureInfo.InvariantCulture), ["command"] = l.Command, ["message"] = l.Message,
            } : null,
        })]),
        ["throughput"] = new JsonArray([.. s.Throughput.Select(p => (JsonNode)new JsonObject
        {
            ["minute"] = p.Minute.ToString("O", CultureInfo.InvariantCulture), ["complete"] = p.Complete, ["failed"] = p.Failed,
        })]),
        ["recentFailures"] = new JsonArray([.. s.RecentFailures.Select(f => (JsonNode)new JsonObject
        {
            ["id"] = f.Id,
            ["status"] = f.Status.ToRedisString(),
            ["queue"] = f.Queue,
            ["worker"] = f.Worker,
            ["complete"] = f.Complete?.ToString("O", CultureInfo.InvariantCulture),
            ["expression"] = f.Expression,
            ["error"] = f.Error,
        })]),
    };

    private static string Num(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    private static string Cut(string text, int max) => text.Length > max ? text[..(max - 1)] + "…" : text;

    private static string Short(string id) => id.Length > 12 ? id[..8] + "…" : id;

    private static string Ago(TimeSpan t) => Rrq.Display.Formats.Ago(t);

    private static string StatusMarkup(string status) => status switch
    {
        "COMPLETE" or "IDLE" => $"[green]{status}[/]",
        "RUNNING" or "BUSY" => $"[yellow]{status}[/]",
        "PENDING" or "PAUSED" => $"[blue]{status}[/]",
        "ERROR" or "DIED" or "TIMEOUT" or "LOST" => $"[red]{status}[/]",
        _ => $"[grey]{status}[/]",
    };

    /// <summary>Numbers as a line of block characters, each scaled to the largest.</summary>
    internal static string Spark(IEnumerable<long> values)
    {
        const string Blocks = "▁▂▃▄▅▆▇█";
        var v = values.ToArray();
        var max = v.Length == 0 ? 0 : v.Max();
        return new string(v.Select(x => max == 0 || x == 0 ? Blocks[0] : Blocks[1 + (int)Math.Min(6, x * 6 / max)]).ToArray());
    }
}
