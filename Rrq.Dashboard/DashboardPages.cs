using System.Collections;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.RegularExpressions;

namespace Rrq.Dashboard;

/// <summary>One rendered page: its title, the content of its &lt;main&gt;, and its HTTP status.</summary>
internal sealed record DashboardPage(string Title, string Main, int Status = 200);

/// <summary>
/// The dashboard's pages as HTML, rendered on the server from the controller's reads: <see cref="RrqController.Summary"/>
/// for the overview, <see cref="RrqController.TaskPage"/> for lists, and the per-task and per-worker reads. None of them
/// reads every task.
/// </summary>
internal sealed partial class DashboardPages(string prefix, RrqDashboardOptions options, bool canAct, CancellationToken token)
{
    private static readonly string[] Groups = ["pending", "deferred", "running", "complete", "failed"];

    public string Layout(RrqController obj, DashboardPage page)
    {
        var sb = new StringBuilder();
        sb.Append("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">")
          .Append("<title>").Append(H(page.Title)).Append(" · rrq ").Append(H(obj.QueueId)).Append("</title>")
          .Append("<link rel=\"stylesheet\" href=\"").Append(prefix).Append("/assets/dashboard.css\">")
          .Append("<script src=\"").Append(prefix).Append("/assets/dashboard.js\" defer></script></head>")
          .Append("<body data-prefix=\"").Append(H(prefix)).Append("\"><header><span class=\"brand\"><a href=\"").Append(prefix)
          .Append("/\">rrq</a> · ").Append(H(obj.QueueId)).Append("</span><nav>");
        foreach (var g in Groups)
        {
            sb.Append("<a href=\"").Append(prefix).Append("/tasks/").Append(g).Append("\">").Append(g).Append("</a>");
        }
        sb.Append("</nav><span class=\"live\" id=\"live\">connecting…</span></header><main id=\"main\">").Append(page.Main)
          .Append("</main></body></html>");
        return sb.ToString();
    }

    public static string Problem(string message) => $"<h1>Not available</h1><p class=\"flash\">{H(message)}</p>";

    // ---- overview ----

    public async Task<DashboardPage> OverviewAsync(RrqController obj)
    {
        var s = await obj.SummaryAsync(options.RecentFailures, options.ThroughputMinutes, token);
        var c = s.Counts;
        var sb = new StringBuilder();
        sb.Append("<h1>Queue ").Append(H(s.QueueId)).Append("</h1><p class=\"muted\">").Append(H(obj.RedisConfiguration))
          .Append(" · read at ").Append(Time(s.Time)).Append("</p><div class=\"cards\">");
        Card(sb, "pending", "PENDING", c.Pending, null);
        Card(sb, "deferred", "DEFERRED", c.Deferred, null);
        Card(sb, "running", "RUNNING", c.Running, null);
        Card(sb, "complete", "COMPLETE", c.Complete, null);
        var split = string.Join(", ", c.FailedByStatus.Where(p => p.Value > 0).Select(p => $"{p.Key.ToRedisString()} {p.Value:N0}"));
        Card(sb, "failed", "FAILED", c.Failed, split.Length == 0 ? null : split + (c.FailedSplitExact ? "" : $" (of the newest {RrqController.SummarySplitLimit:N0})"));
        sb.Append("</div>");

        sb.Append("<h2>Finished per minute</h2>").Append(Chart(s.Throughput));

        sb.Append("<h2>Queues</h2><table id=\"queues\"><tr><th>queue</th><th class=\"num\">pending</th><th class=\"num\">delayed</th><th class=\"num\">idle workers</th></tr>");
        foreach (var q in s.Queues)
        {
            sb.Append("<tr><td>").Append(H(q.Name)).Append("</td><td class=\"num\">").Append(N(q.Pending)).Append("</td><td class=\"num\">")
              .Append(N(q.Delayed)).Append("</td><td class=\"num\">").Append(N(q.IdleWorkers)).Append("</td></tr>");
        }
        sb.Append("</table>");

        sb.Append("<h2>Workers</h2><table id=\"workers\"><tr><th>worker</th><th>status</th><th>running</th><th>load</th><th>host:pid</th><th>heartbeat</th><th>last log</th></tr>");
        foreach (var w in s.Workers)
        {
            sb.Append("<tr><td>").Append(WorkerLink(w.WorkerId)).Append("</td><td>").Append(Status(w.Status.ToString().ToUpperInvariant()))
              .Append("</td><td>").Append(string.Join(" ", w.Tasks.Select(TaskLink))).Append("</td><td>").Append(w.Tasks.Count).Append('/')
              .Append(w.Info?.Concurrency ?? 1).Append("</td><td>").Append(H(w.Info is { } i ? $"{i.Hostname}:{i.Pid}" : "?")).Append("</td><td>")
              .Append(w.LastHeartbeat is { } hb ? $"{hb.TotalSeconds:0.0} s ago" : "<span class=\"muted\">-</span>").Append("</td><td>")
              .Append(w.LastLog is { } l ? $"{Ago(s.Time - l.Time)} <code>{H(l.Command)}</code> {H(l.Message)}" : "").Append("</td></tr>");
        }
        if (s.Workers.Count == 0)
        {
            sb.Append("<tr><td colspan=\"7\" class=\"muted\">No workers. Start some with WorkerSpawn or rrq-worker ").Append(H(s.QueueId)).Append(".</td></tr>");
        }
        sb.Append("</table>");

        sb.Append("<h2>Newest failures</h2>");
        if (s.RecentFailures.Count == 0)
        {
            sb.Append("<p class=\"muted\">None.</p>");
        }
        else
        {
            sb.Append("<table id=\"failures\"><tr><th>task</th><th>status</th><th>finished</th><th>expression</th><th>error</th></tr>");
            foreach (var f in s.RecentFailures)
            {
                sb.Append("<tr><td>").Append(TaskLink(f.Id)).Append("</td><td>").Append(Status(f.Status.ToRedisString())).Append("</td><td>")
                  .Append(f.Complete is { } t ? Ago(s.Time - t) : "").Append("</td><td><code>").Append(H(f.Expression)).Append("</code></td><td>")
                  .Append(H(f.Error)).Append("</td></tr>");
            }
            sb.Append("</table>");
        }
        return new DashboardPage("Overview", sb.ToString());
    }

    private void Card(StringBuilder sb, string group, string label, long n, string? note) =>
        sb.Append("<a class=\"card\" id=\"count-").Append(group).Append("\" href=\"").Append(prefix).Append("/tasks/").Append(group)
          .Append("\"><div class=\"n s-").Append(label).Append("\">").Append(N(n)).Append("</div><div class=\"label\">").Append(label)
          .Append(note is null ? "" : " · " + H(note)).Append("</div></a>");

    /// <summary>Tasks finished per minute as stacked bars (complete below, failed above), the current minute last.</summary>
    private static string Chart(IReadOnlyList<RrqThroughputPoint> points)
    {
        const int Height = 80, Bar = 14, Gap = 3;
        var max = Math.Max(1, points.Count == 0 ? 1 : points.Max(p => p.Complete + p.Failed));
        var width = points.Count * (Bar + Gap);
        var sb = new StringBuilder();
        sb.Append("<svg class=\"chart\" id=\"throughput\" width=\"").Append(width + 40).Append("\" height=\"").Append(Height + 16)
          .Append("\" role=\"img\" aria-label=\"tasks finished per minute\">");
        for (var i = 0; i < points.Count; i++)
        {
            var p = points[i];
            var x = i * (Bar + Gap);
            var hc = (int)Math.Round(p.Complete * (double)Height / max);
            var hf = (int)Math.Round(p.Failed * (double)Height / max);
            sb.Append("<g><title>").Append(p.Minute.UtcDateTime.ToString("HH:mm", CultureInfo.InvariantCulture)).Append("Z: ")
              .Append(p.Complete).Append(" complete, ").Append(p.Failed).Append(" failed</title>")
              .Append("<rect class=\"c\" x=\"").Append(x).Append("\" y=\"").Append(Height - hc).Append("\" width=\"").Append(Bar).Append("\" height=\"").Append(hc).Append("\"/>")
              .Append("<rect class=\"f\" x=\"").Append(x).Append("\" y=\"").Append(Height - hc - hf).Append("\" width=\"").Append(Bar).Append("\" height=\"").Append(hf).Append("\"/></g>");
        }
        sb.Append("<text x=\"").Append(width + 4).Append("\" y=\"10\">").Append(max).Append("</text><text x=\"").Append(width + 4).Append("\" y=\"")
          .Append(Height).Append("\">0</text>");
        if (points.Count > 0)
        {
            sb.Append("<text x=\"0\" y=\"").Append(Height + 14).Append("\">").Append(points[0].Minute.UtcDateTime.ToString("HH:mm", CultureInfo.InvariantCulture))
              .Append("Z</text><text x=\"").Append(Math.Max(0, width - 40)).Append("\" y=\"").Append(Height + 14).Append("\">now</text>");
        }
        return sb.Append("</svg><p class=\"muted\">").Append(points.Sum(p => p.Complete)).Append(" complete and ").Append(points.Sum(p => p.Failed))
            .Append(" failed in the last ").Append(points.Count).Append(" minutes.</p>").ToString();
    }

    // ---- task lists ----

    public async Task<DashboardPage> TasksAsync(RrqController obj, string group, long page)
    {
        if (!Enum.TryParse<RrqTaskGroup>(group, ignoreCase: true, out var g) || !Groups.Contains(group.ToLowerInvariant()))
        {
            return new DashboardPage("Not found", Problem($"'{group}' is not a group of tasks: pending, deferred, running, complete or failed."), 404);
        }
        page = Math.Max(1, page);
        var size = options.PageSize;
        var p = await obj.TaskPageAsync(g, (page - 1) * size, size, token);
        var pages = Math.Max(1, (p.Total + size - 1) / size);
        var name = group.ToLowerInvariant();
        var sb = new StringBuilder();
        sb.Append("<h1>").Append(H(name.ToUpperInvariant())).Append(" tasks <span class=\"muted\">").Append(N(p.Total)).Append("</span></h1>");
        sb.Append("<p class=\"muted\">").Append(g switch
        {
            RrqTaskGroup.Pending => "Queued, next to run first, queue by queue; then automatic retries waiting for their delay.",
            RrqTaskGroup.Deferred => "Waiting for their dependencies.",
            RrqTaskGroup.Running => "Held by workers now.",
            RrqTaskGroup.Complete => "Finished with a value, newest first (a retried task is listed by its newest attempt).",
            _ => "Finished without a value (ERROR, DIED, TIMEOUT, CANCELLED, IMPOSSIBLE), newest first.",
        }).Append("</p>");
        sb.Append("<table id=\"tasks\"><tr><th>task</th><th>status</th><th>queue</th><th>worker</th><th>submitted</th><th>started</th><th>finished</th></tr>");
        foreach (var t in p.Tasks)
        {
            sb.Append("<tr><td>").Append(TaskLink(t.Id)).Append("</td><td>").Append(Status(t.Status.ToRedisString())).Append("</td><td>")
              .Append(H(t.Queue)).Append("</td><td>").Append(t.Worker is null ? "" : WorkerLink(t.Worker)).Append("</td><td>").Append(Time(t.Submit))
              .Append("</td><td>").Append(Time(t.Start)).Append("</td><td>").Append(Time(t.Complete)).Append("</td></tr>");
        }
        if (p.Tasks.Count == 0)
        {
            sb.Append("<tr><td colspan=\"7\" class=\"muted\">None.</td></tr>");
        }
        sb.Append("</table><div class=\"pager\">");
        if (page > 1)
        {
            sb.Append("<a rel=\"prev\" href=\"").Append(prefix).Append("/tasks/").Append(name).Append("?page=").Append(page - 1).Append("\">← newer</a>");
        }
        sb.Append("<span>page ").Append(page).Append(" of ").Append(pages).Append("</span>");
        if (page < pages)
        {
            sb.Append("<a rel=\"next\" href=\"").Append(prefix).Append("/tasks/").Append(name).Append("?page=").Append(page + 1).Append("\">older →</a>");
        }
        sb.Append("</div>");
        return new DashboardPage(name.ToUpperInvariant() + " tasks", sb.ToString());
    }

    // ---- one task ----

    public async Task<DashboardPage> TaskAsync(RrqController obj, string id)
    {
        var status = await obj.TaskStatusAsync([id], follow: false, cancellationToken: token);
        if (status[0] == RrqTaskStatus.Missing)
        {
            return new DashboardPage("Task not found", Problem($"No task '{id}' in queue '{obj.QueueId}' (MISSING): it was never submitted " +
                "to this queue, or it was deleted, or the queue's retention expired it."), 404);
        }
        var info = await obj.TaskInfoAsync(id, token);
        var times = (await obj.TaskTimesAsync([id], follow: false, cancellationToken: token))[0];
        var st = info.Status.ToRedisString();
        var sb = new StringBuilder();
        sb.Append("<h1>Task <code>").Append(H(id)).Append("</code> ").Append(Status(st)).Append("</h1><div id=\"flash\" class=\"flash\"></div>");

        var actions = new List<string>();
        if (info.Status.IsTerminal() && info.Status != RrqTaskStatus.Moved)
        {
            actions.Add(Button($"{prefix}/task/{Uri.EscapeDataString(id)}/retry", "Retry", null, "retry"));
        }
        if (info.Status is RrqTaskStatus.Pending or RrqTaskStatus.Deferred or RrqTaskStatus.Running)
        {
            actions.Add(Button($"{prefix}/task/{Uri.EscapeDataString(id)}/cancel", "Cancel", null, "cancel"));
        }
        if (info.Status != RrqTaskStatus.Running)
        {
            actions.Add(Button($"{prefix}/task/{Uri.EscapeDataString(id)}/delete", "Delete", $"Delete task {id} and its retry chain?", "delete", danger: true));
        }
        Actions(sb, actions);

        sb.Append("<dl class=\"facts\">");
        Fact(sb, "queue", H(info.Queue));
        Fact(sb, "worker", info.Worker is null ? "<span class=\"muted\">not claimed</span>" : WorkerLink(info.Worker));
        Fact(sb, "runs", info.SeparateProcess ? $"in a separate process{(info.Pid is { } pid ? $" (pid {pid})" : "")}" : "in the worker's process");
        if (info.Timeout is { } limit)
        {
            Fact(sb, "timeout", $"{limit.TotalSeconds:0.###} s");
        }
        Fact(sb, "submitted", Time(times.Submit));
        Fact(sb, "started", Time(times.Start));
        Fact(sb, "finished", Time(times.Complete) + (times.Start is { } a && times.Complete is { } b ? $" <span class=\"muted\">(ran {Seconds(b - a)})</span>" : ""));
        if (times.Moved is { } moved)
        {
            Fact(sb, "retried", Time(moved));
        }
        sb.Append("</dl>");

        if (info.Moved.Up.Count + info.Moved.Down.Count > 0)
        {
            var chain = info.Moved.Up.Append(id).Concat(info.Moved.Down).ToArray();
            var statuses = await obj.TaskStatusAsync(chain, follow: false, cancellationToken: token);
            sb.Append("<h2>Retry chain</h2><p id=\"chain\">");
            sb.AppendJoin(" → ", chain.Select((t, i) => (t == id ? $"<strong><code>{H(t)}</code></strong>" : TaskLink(t)) + " " + Status(statuses[i].ToRedisString())));
            sb.Append("</p>");
        }
        if (info.Depends.Up.Count + info.Depends.Down.Count > 0)
        {
            sb.Append("<h2>Dependencies</h2>");
            await LinkedAsync(obj, sb, "waits for", info.Depends.Up);
            await LinkedAsync(obj, sb, "needed by", info.Depends.Down);
        }

        sb.Append("<h2>Expression</h2>");
        try
        {
            var data = await obj.TaskDataAsync(id, token);
            sb.Append("<pre id=\"expression\">").Append(H(data.Expression)).Append("</pre>");
            if (data.Locals.Count > 0)
            {
                sb.Append("<table id=\"locals\"><tr><th>local</th><th>type</th><th>value</th></tr>");
                foreach (var (name, value) in data.Locals)
                {
                    sb.Append("<tr><td><code>").Append(H(name)).Append("</code></td><td><code>").Append(H(TypeName(value?.GetType())))
                      .Append("</code></td><td><code>").Append(H(Preview(value, 160))).Append("</code></td></tr>");
                }
                sb.Append("</table>");
            }
        }
        catch (RrqException e)
        {
            sb.Append("<p class=\"flash\">").Append(H(e.Message)).Append("</p>");
        }

        if (info.Status == RrqTaskStatus.Running && await obj.TaskProgressAsync(id, follow: false, cancellationToken: token) is { } progress)
        {
            sb.Append("<h2>Progress</h2><pre id=\"progress\">").Append(H(Preview(progress, 2000))).Append("</pre>");
        }
        if (info.Status.IsTerminal() || info.Status == RrqTaskStatus.Moved)
        {
            await ResultAsync(obj, sb, id);
        }
        var warnings = await obj.TaskWarningsAsync(id, follow: false, cancellationToken: token);
        if (warnings.Count > 0)
        {
            sb.Append("<h2>Warnings</h2><ul id=\"warnings\">");
            foreach (var w in warnings)
            {
                sb.Append("<li>").Append(H(w)).Append("</li>");
            }
            sb.Append("</ul>");
        }
        try
        {
            var log = await obj.TaskLogAsync(id, token);
            if (log.Count > 0)
            {
                sb.Append("<h2>Task log</h2><pre id=\"log\">").Append(H(string.Join("\n", log.TakeLast(500)))).Append("</pre>");
            }
        }
        catch (RrqException)
        {
            // No log kept for it.
        }
        return new DashboardPage($"Task {id}", sb.ToString());
    }

    private async Task LinkedAsync(RrqController obj, StringBuilder sb, string label, IReadOnlyList<string> ids)
    {
        if (ids.Count == 0)
        {
            return;
        }
        var shown = ids.Take(100).ToArray();
        var statuses = await obj.TaskStatusAsync(shown, follow: false, cancellationToken: token);
        sb.Append("<p>").Append(label).Append(": ").AppendJoin(", ", shown.Select((t, i) => TaskLink(t) + " " + Status(statuses[i].ToRedisString())));
        sb.Append(ids.Count > shown.Length ? $" and {ids.Count - shown.Length} more" : "").Append("</p>");
    }

    private async Task ResultAsync(RrqController obj, StringBuilder sb, string id)
    {
        object? result;
        try
        {
            result = await obj.TaskResultAsync(id, follow: false, cancellationToken: token);
        }
        catch (RrqException e)
        {
            sb.Append("<h2>Result</h2><p class=\"flash\">").Append(H(e.Message)).Append("</p>");
            return;
        }
        if (result is not RrqTaskError error)
        {
            sb.Append("<h2>Value</h2><p class=\"muted\"><code>").Append(H(TypeName(result?.GetType()))).Append("</code></p><pre id=\"value\">")
              .Append(H(Preview(result, 20_000))).Append("</pre>");
            return;
        }
        sb.Append("<h2>Error</h2><dl class=\"facts\" id=\"error\">");
        Fact(sb, "message", $"<strong>{H(error.Message)}</strong>");
        if (error.ExceptionType is not null)
        {
            Fact(sb, "type", $"<code>{H(error.ExceptionType)}</code>");
        }
        if (error.From is not null)
        {
            Fact(sb, "from", $"<code>{H(error.From)}</code>");
        }
        Fact(sb, "status", Status(error.Status.ToRedisString()));
        sb.Append("</dl>");
        if (error.Trace is null)
        {
            return;
        }
        sb.Append("<h2>Stack trace</h2><pre id=\"trace\">").Append(H(error.Trace)).Append("</pre>");
        var places = CsxPlace().Matches((error.From ?? "") + "\n" + error.Trace)
            .Select(m => (File: m.Groups["file"].Value, Line: int.Parse(m.Groups["line"].Value, CultureInfo.InvariantCulture)))
            .ToArray();
        if (places.Length == 0)
        {
            return;
        }
        RrqEnvirSpec envir;
        try
        {
            envir = await obj.WorkerEnvirGetAsync(token);
        }
        catch (RrqException)
        {
            return;
        }
        var texts = envir.Sources.Select(s => (s.Path, s.Text)).Concat(envir.Loads.Select(p => (Path: p.Key, Text: p.Value))).ToArray();
        // The same place may be named twice (the error's From and its frame): each source line is shown once.
        var shown = places.Select(p => (Source: texts.FirstOrDefault(t => t.Path == p.File || Path.GetFileName(t.Path) == Path.GetFileName(p.File)), p.Line))
            .Where(p => p.Source.Text is not null).DistinctBy(p => (p.Source.Path, p.Line)).Take(4);
        foreach (var (source, line) in shown)
        {
            var lines = source.Text.Split('\n');
            if (line < 1 || line > lines.Length)
            {
                continue;
            }
            sb.Append("<div class=\"source\"><div class=\"file\">").Append(H(source.Path)).Append(':').Append(line)
              .Append(" <span class=\"muted\">(the worker environment as stored now, version ").Append(envir.Version).Append(")</span></div><table>");
            for (var n = Math.Max(1, line - 3); n <= Math.Min(lines.Length, line + 3); n++)
            {
                sb.Append(n == line ? "<tr class=\"hit\">" : "<tr>").Append("<td class=\"ln\">").Append(n).Append("</td><td>")
                  .Append(H(lines[n - 1].TrimEnd('\r'))).Append("</td></tr>");
            }
            sb.Append("</table></div>");
        }
    }

    // "fault.csx:6" (an error's From) and "in /path/fault.csx:line 6" (a stack frame).
    [GeneratedRegex(@"(?<file>[^\s:()'""]+\.csx):(?:line )?(?<line>\d+)")]
    private static partial Regex CsxPlace();

    // ---- one worker ----

    public async Task<DashboardPage> WorkerAsync(RrqController obj, string id)
    {
        var all = await obj.WorkerStatusAllAsync(token);
        if (!all.TryGetValue(id, out var status))
        {
            return new DashboardPage("Worker not found", Problem($"No worker '{id}' has registered in queue '{obj.QueueId}' (or it was deleted since)."), 404);
        }
        var live = await obj.WorkerExistsAsync(id, token);
        var info = (await obj.WorkerInfoAsync([id], token)).Values.FirstOrDefault();
        var tasks = live ? (await obj.WorkerTaskIdsAsync([id], token))[id] : [];
        var st = status.ToString().ToUpperInvariant();
        var sb = new StringBuilder();
        sb.Append("<h1>Worker <code>").Append(H(id)).Append("</code> ").Append(Status(st)).Append("</h1><div id=\"flash\" class=\"flash\"></div>");
        if (live)
        {
            List<string> buttons = [Button($"{prefix}/worker/{Uri.EscapeDataString(id)}/stop", "Stop", null, "stop")];
            // A process can be killed only from its own machine (WorkerStop with Kill refuses others); a Slurm job anywhere.
            if (info?.Hostname == Environment.MachineName || info?.SlurmJob is not null)
            {
                buttons.Add(Button($"{prefix}/worker/{Uri.EscapeDataString(id)}/kill", "Kill", $"Kill worker {id}? Its running tasks will be DIED.", "kill", danger: true));
            }
            Actions(sb, buttons);
        }
        sb.Append("<dl class=\"facts\">");
        if (info is not null)
        {
            Fact(sb, "host", $"{H(info.Hostname)} (pid {info.Pid}, user {H(info.Username)})");
            if (info.SlurmJob is not null)
            {
                Fact(sb, "Slurm job", $"<code>{H(info.SlurmJob)}</code>");
            }
            Fact(sb, "config", H(info.Config));
            Fact(sb, "queues", H(string.Join(", ", info.Queues)));
            Fact(sb, "slots", info.Concurrency.ToString(CultureInfo.InvariantCulture));
            Fact(sb, "started", Time(info.Started));
            Fact(sb, "runtime", H($"rrq {info.RrqVersion}, {info.Runtime}"));
            Fact(sb, "heartbeat", info.HeartbeatKey is null ? "none" : "yes");
        }
        Fact(sb, "running", tasks.Count == 0 ? "<span class=\"muted\">nothing</span>" : string.Join(" ", tasks.Select(TaskLink)));
        sb.Append("</dl>");

        var log = await obj.WorkerLogTailAsync([id], 50, token);
        sb.Append("<h2>Log</h2><table id=\"worker-log\"><tr><th>time</th><th>event</th><th>details</th></tr>");
        foreach (var e in log.Reverse())
        {
            sb.Append("<tr><td>").Append(Time(e.Time)).Append("</td><td><code>").Append(H(e.Command)).Append("</code></td><td>")
              .Append(e.Command.StartsWith("TASK_", StringComparison.Ordinal) && e.Message.Length > 0 ? TaskLink(e.Message) : H(e.Message))
              .Append("</td></tr>");
        }
        sb.Append("</table>");
        try
        {
            var output = await obj.WorkerProcessLogAsync(id, token);
            if (output.Count > 0)
            {
                sb.Append("<h2>Process output</h2><pre id=\"process-log\">").Append(H(string.Join("\n", output.TakeLast(200)))).Append("</pre>");
            }
        }
        catch (Exception e) when (e is RrqException or IOException or UnauthorizedAccessException)
        {
            // Not a worker this machine started, or its log is gone.
        }
        return new DashboardPage($"Worker {id}", sb.ToString());
    }

    // ---- pieces ----

    private void Actions(StringBuilder sb, List<string> buttons)
    {
        if (buttons.Count == 0)
        {
            return;
        }
        if (canAct)
        {
            sb.Append("<div class=\"actions\">").AppendJoin("", buttons).Append("</div>");
        }
        else
        {
            sb.Append("<p class=\"readonly\" id=\"readonly\">").Append(options.ActionsPolicy is null
                ? "Read-only: the app serving this dashboard allows no actions (it named no authorization policy for them)."
                : "Read-only for you: actions need the authorization policy '" + H(options.ActionsPolicy) + "'.").Append("</p>");
        }
    }

    private static string Button(string url, string label, string? confirm, string name, bool danger = false) =>
        $"<button id=\"action-{name}\" data-action=\"{H(url)}\"{(confirm is null ? "" : $" data-confirm=\"{H(confirm)}\"")}{(danger ? " class=\"danger\"" : "")}>{H(label)}</button>";

    private static void Fact(StringBuilder sb, string label, string html) =>
        sb.Append("<dt>").Append(H(label)).Append("</dt><dd>").Append(html).Append("</dd>");

    private string TaskLink(string id) => $"<a class=\"id\" href=\"{prefix}/task/{Uri.EscapeDataString(id)}\">{H(id)}</a>";

    private string WorkerLink(string id) => $"<a href=\"{prefix}/worker/{Uri.EscapeDataString(id)}\">{H(id)}</a>";

    private static string Status(string status) => $"<span class=\"status s-{H(status)}\">{H(status)}</span>";

    private static string H(string? text) => HtmlEncoder.Default.Encode(text ?? "");

    private static string N(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    private static string Time(DateTimeOffset? t) => t is { } v
        ? $"<time datetime=\"{v.UtcDateTime:O}\">{v.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)}Z</time>" : "";

    private static string Seconds(TimeSpan t) => t.TotalSeconds < 1 ? $"{t.TotalMilliseconds:0} ms" : $"{t.TotalSeconds:0.##} s";

    private static string Ago(TimeSpan t) => Rrq.Display.Formats.Ago(t);

    /// <summary>A type's name as C# writes it (<c>double[]</c>, <c>List&lt;int&gt;</c>).</summary>
    internal static string TypeName(Type? type) => type is null ? "null" : Rrq.Display.CSharpTypeName.Of(type, forDisplay: true);

    /// <summary>A value as text for a page, cut to <paramref name="max"/> characters: collections as their first
    /// elements in brackets, strings quoted, anything else as its ToString.</summary>
    internal static string Preview(object? value, int max)
    {
        string text;
        try
        {
            text = value switch
            {
                null => "null",
                string s => "\"" + s + "\"",
                IDictionary d => "{" + string.Join(", ", d.Keys.Cast<object?>().Take(20).Select(k => $"{Preview(k, 40)}: {Preview(d[k!], 60)}"))
                    + (d.Count > 20 ? $", … ({d.Count} in all)" : "") + "}",
                ICollection c => "[" + string.Join(", ", c.Cast<object?>().Take(20).Select(x => Preview(x, 60)))
                    + (c.Count > 20 ? $", … ({c.Count} in all)" : "") + "]",
                IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
                _ => value.ToString() ?? "",
            };
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            text = $"({TypeName(value?.GetType())}: its ToString threw {e.GetType().Name})";
        }
        return text.Length > max ? text[..(max - 1)] + "…" : text;
    }
}
