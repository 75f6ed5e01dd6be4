using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Rrq.Dashboard.Pages;

namespace Rrq.Dashboard;

/// <summary>One rendered page: its title, the content of its &lt;main&gt;, and its HTTP status.</summary>
internal sealed record DashboardPage(string Title, string Main, int Status = 200);

/// <summary>
/// The dashboard's pages: each reads what it shows from the controller (<see cref="RrqController.Summary"/> for the
/// overview, <see cref="RrqController.TaskPage"/> for lists, and the per-task and per-worker reads; none of them reads
/// every task), then renders it with its Razor component (<c>Pages/</c>) on the server.
/// </summary>
internal sealed partial class DashboardPages(PageContext page, IServiceProvider services, CancellationToken token)
{
    public static readonly string[] Groups = ["pending", "deferred", "running", "complete", "failed"];

    private string Prefix => page.Prefix;

    /// <summary>The whole document around <paramref name="shown"/>.</summary>
    public Task<string> LayoutAsync(RrqController obj, DashboardPage shown) => RenderAsync<Layout>(new()
    {
        [nameof(Layout.Title)] = shown.Title, [nameof(Layout.QueueId)] = obj.QueueId,
        [nameof(Layout.Main)] = new MarkupString(shown.Main),
    });

    /// <summary>A page that says why there is nothing to show.</summary>
    public async Task<DashboardPage> ProblemAsync(string title, string message, int status) =>
        new(title, await RenderAsync<Problem>(new() { [nameof(Problem.Message)] = message }), status);

    public async Task<DashboardPage> OverviewAsync(RrqController obj)
    {
        var s = await obj.SummaryAsync(page.Options.RecentFailures, page.Options.ThroughputMinutes, token);
        return new("Overview", await RenderAsync<Overview>(new() { [nameof(Overview.Summary)] = s, [nameof(Overview.Redis)] = obj.RedisConfiguration }));
    }

    public async Task<DashboardPage> TasksAsync(RrqController obj, string group, long number)
    {
        if (!Enum.TryParse<RrqTaskGroup>(group, ignoreCase: true, out var g) || !Groups.Contains(group.ToLowerInvariant()))
        {
            return await ProblemAsync("Not found", $"'{group}' is not a group of tasks: pending, deferred, running, complete or failed.", 404);
        }
        number = Math.Max(1, number);
        var size = page.Options.PageSize;
        var tasks = await obj.TaskPageAsync(g, (number - 1) * size, size, token);
        var view = new TaskListView(group.ToLowerInvariant(), g, number, Math.Max(1, (tasks.Total + size - 1) / size), tasks);
        return new($"{view.Name.ToUpperInvariant()} tasks", await RenderAsync<TaskList>(new() { [nameof(TaskList.View)] = view }));
    }

    public async Task<DashboardPage> TaskAsync(RrqController obj, string id)
    {
        var status = await obj.TaskStatusAsync([id], follow: false, cancellationToken: token);
        if (status[0] == RrqTaskStatus.Missing)
        {
            return await ProblemAsync("Task not found", $"No task '{id}' in queue '{obj.QueueId}' (MISSING): it was never submitted " +
                "to this queue, or it was deleted, or the queue's retention expired it.", 404);
        }
        var info = await obj.TaskInfoAsync(id, token);
        var times = (await obj.TaskTimesAsync([id], follow: false, cancellationToken: token))[0];
        var chain = info.Moved.Up.Count + info.Moved.Down.Count > 0 ? await RefsAsync(obj, [.. info.Moved.Up.Append(id).Concat(info.Moved.Down)]) : [];
        RrqTaskData? data = null;
        string? dataProblem = null;
        try
        {
            data = await obj.TaskDataAsync(id, token);
        }
        catch (RrqException e)
        {
            dataProblem = e.Message;
        }
        var progress = info.Status == RrqTaskStatus.Running ? await obj.TaskProgressAsync(id, follow: false, cancellationToken: token) : null;
        var outcome = info.Status.IsTerminal() || info.Status == RrqTaskStatus.Moved ? await OutcomeAsync(obj, id) : null;
        var warnings = await obj.TaskWarningsAsync(id, follow: false, cancellationToken: token);
        IReadOnlyList<string> log;
        try
        {
            log = [.. (await obj.TaskLogAsync(id, token)).TakeLast(500)];
        }
        catch (RrqException)
        {
            log = [];   // no log kept for it
        }
        var url = $"{Prefix}/task/{Uri.EscapeDataString(id)}";
        var actions = new List<ActionButton>();
        if (info.Status.IsTerminal() && info.Status != RrqTaskStatus.Moved)
        {
            actions.Add(new(url + "/retry", "Retry", null, "retry"));
        }
        if (info.Status is RrqTaskStatus.Pending or RrqTaskStatus.Deferred or RrqTaskStatus.Running)
        {
            actions.Add(new(url + "/cancel", "Cancel", null, "cancel"));
        }
        if (info.Status != RrqTaskStatus.Running)
        {
            actions.Add(new(url + "/delete", "Delete", $"Delete task {id} and its retry chain?", "delete", Danger: true));
        }
        var view = new TaskView(id, info, times, chain, await LinkedAsync(obj, info.Depends.Up), await LinkedAsync(obj, info.Depends.Down),
            data, dataProblem, progress, outcome, warnings, log, actions);
        return new($"Task {id}", await RenderAsync<TaskPage>(new() { [nameof(TaskPage.View)] = view }));
    }

    public async Task<DashboardPage> WorkerAsync(RrqController obj, string id)
    {
        var all = await obj.WorkerStatusAllAsync(token);
        if (!all.TryGetValue(id, out var status))
        {
            return await ProblemAsync("Worker not found", $"No worker '{id}' has registered in queue '{obj.QueueId}' (or it was deleted since).", 404);
        }
        var live = await obj.WorkerExistsAsync(id, token);
        var info = (await obj.WorkerInfoAsync([id], token)).Values.FirstOrDefault();
        var tasks = live ? (await obj.WorkerTaskIdsAsync([id], token))[id] : [];
        var log = await obj.WorkerLogTailAsync([id], 50, token);
        IReadOnlyList<string> output;
        try
        {
            output = [.. (await obj.WorkerProcessLogAsync(id, token)).TakeLast(200)];
        }
        catch (Exception e) when (e is RrqException or IOException or UnauthorizedAccessException)
        {
            output = [];   // not a worker this machine started, or its log is gone
        }
        var actions = new List<ActionButton>();
        if (live)
        {
            var url = $"{Prefix}/worker/{Uri.EscapeDataString(id)}";
            actions.Add(new(url + "/stop", "Stop", null, "stop"));
            // A process can be killed only from its own machine (WorkerStop with Kill refuses others); a Slurm job anywhere.
            if (info?.Hostname == Environment.MachineName || info?.SlurmJob is not null)
            {
                actions.Add(new(url + "/kill", "Kill", $"Kill worker {id}? Its running tasks will be DIED.", "kill", Danger: true));
            }
        }
        var view = new WorkerView(id, status, live, info, tasks, [.. log.Reverse()], output, actions);
        return new($"Worker {id}", await RenderAsync<WorkerPage>(new() { [nameof(WorkerPage.View)] = view }));
    }

    private async Task<IReadOnlyList<TaskRef>> RefsAsync(RrqController obj, string[] ids)
    {
        var statuses = await obj.TaskStatusAsync(ids, follow: false, cancellationToken: token);
        return [.. ids.Select((t, i) => new TaskRef(t, statuses[i]))];
    }

    private async Task<LinkedTasks> LinkedAsync(RrqController obj, IReadOnlyList<string> ids) =>
        ids.Count == 0 ? new([], 0) : new(await RefsAsync(obj, [.. ids.Take(100)]), Math.Max(0, ids.Count - 100));

    private async Task<OutcomeView> OutcomeAsync(RrqController obj, string id)
    {
        object? result;
        try
        {
            result = await obj.TaskResultAsync(id, follow: false, cancellationToken: token);
        }
        catch (RrqException e)
        {
            return new(null, null, e.Message, [], 0);
        }
        if (result is not RrqTaskError { Trace: { } trace } error)
        {
            return result is RrqTaskError untraced ? new(null, untraced, null, [], 0) : new(result, null, null, [], 0);
        }
        var places = CsxPlace().Matches((error.From ?? "") + "\n" + trace)
            .Select(m => (File: m.Groups["file"].Value, Line: int.Parse(m.Groups["line"].Value, CultureInfo.InvariantCulture)))
            .ToArray();
        if (places.Length == 0)
        {
            return new(null, error, null, [], 0);
        }
        RrqEnvirSpec envir;
        try
        {
            envir = await obj.WorkerEnvirGetAsync(token);
        }
        catch (RrqException)
        {
            return new(null, error, null, [], 0);
        }
        var texts = envir.Sources.Select(s => (s.Path, s.Text)).Concat(envir.Loads.Select(p => (Path: p.Key, Text: p.Value))).ToArray();
        // The same place may be named twice (the error's From and its frame): each source line is shown once.
        var sources = places.Select(p => (Source: texts.FirstOrDefault(t => t.Path == p.File || Path.GetFileName(t.Path) == Path.GetFileName(p.File)), p.Line))
            .Where(p => p.Source.Text is not null).DistinctBy(p => (p.Source.Path, p.Line)).Take(4)
            .Select(p => (p.Source.Path, p.Line, Lines: p.Source.Text.Split('\n')))
            .Where(p => p.Line >= 1 && p.Line <= p.Lines.Length)
            .Select(p => new SourceExcerpt(p.Path, p.Line, [.. Enumerable.Range(Math.Max(1, p.Line - 3), Math.Min(p.Lines.Length, p.Line + 3) - Math.Max(1, p.Line - 3) + 1)
                .Select(n => (n, p.Lines[n - 1].TrimEnd('\r')))]));
        return new(null, error, null, [.. sources], envir.Version);
    }

    // "fault.csx:6" (an error's From) and "in /path/fault.csx:line 6" (a stack frame).
    [GeneratedRegex(@"(?<file>[^\s:()'""]+\.csx):(?:line )?(?<line>\d+)")]
    private static partial Regex CsxPlace();

    /// <summary>Renders component <typeparamref name="T"/> with these parameters to HTML; every page's components see
    /// <see cref="PageContext"/> as a cascading value.</summary>
    private async Task<string> RenderAsync<T>(Dictionary<string, object?> parameters) where T : IComponent
    {
        await using var renderer = new HtmlRenderer(services, services.GetService(typeof(ILoggerFactory)) as ILoggerFactory ?? NullLoggerFactory.Instance);
        return await renderer.Dispatcher.InvokeAsync(async () =>
        {
            var root = await renderer.RenderComponentAsync<CascadingValue<PageContext>>(ParameterView.FromDictionary(new Dictionary<string, object?>
            {
                ["Value"] = page,
                ["IsFixed"] = true,
                ["ChildContent"] = (RenderFragment)(b =>
                {
                    b.OpenComponent<T>(0);
                    foreach (var (name, value) in parameters)
                    {
                        b.AddComponentParameter(1, name, value);
                    }
                    b.CloseComponent();
                }),
            }));
            return root.ToHtmlString();
        });
    }
}
