using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using PuppeteerSharp;
using Rrq.Dashboard;
using Rrq.Tests.Support;

namespace Rrq.Tests.Operate;

/// <summary>The dashboard as an operator meets it: pages in a real browser (Debian's chromium), served by an app with
/// MapRrqDashboard and by <c>rrq-worker dashboard</c>, over a real redis-server and spawned workers.</summary>
public class DashboardTests
{
    /// <summary>An app serving the queue's dashboard twice: at /rrq with actions allowed (a policy anyone meets), and at
    /// /ro with no policy (read-only).</summary>
    private static async Task<(WebApplication App, string Url)> ServeAsync(RrqController obj)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddAuthorization(o => o.AddPolicy("operators", p => p.RequireAssertion(_ => true)));
        var app = builder.Build();
        app.MapRrqDashboard("/rrq", o => { o.Controller = obj; o.ActionsPolicy = "operators"; o.RefreshInterval = TimeSpan.FromSeconds(1); });
        app.MapRrqDashboard("/ro", o => o.Controller = obj);
        await app.StartAsync();
        return (app, app.Urls.First());
    }

    /// <summary>Clicks what the selector finds now and waits for the page it leads to: in one step in the page, since a live
    /// refresh may replace the element between a lookup and a click.</summary>
    private static Task ClickAndWaitAsync(IPage page, string selector) => Task.WhenAll(page.WaitForNavigationAsync(),
        page.EvaluateFunctionAsync("s => document.querySelector(s).click()", selector));

    private static Task<string> TextAsync(IPage page, string selector) =>
        page.EvaluateFunctionAsync<string>("s => document.querySelector(s)?.textContent ?? ''", selector);

    [Fact]
    public async Task An_operator_sees_the_overview_live_opens_a_failed_task_with_its_csx_line_retries_it_and_follows_the_chain()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        obj.WorkerEnvirSet(new RrqEnvir(Sources: [TestQueue.Env("fault.csx")]));
        var spawned = await q.SpawnAsync();
        var ok = obj.TaskCreateBulkExpr("fit_model(x, x)", Enumerable.Range(0, 3).Select(i => new { x = new[] { 1.0, 2, 3 + i } }));
        var bad = obj.TaskCreateExpr("fit_model(x, null)", new { x = new[] { 1.0, 2.0 } });
        Assert.True(obj.TaskWait(ok, TimeSpan.FromSeconds(60)));
        Assert.False(obj.TaskWait(bad, TimeSpan.FromSeconds(60)));

        var (app, url) = await ServeAsync(obj);
        await using var _ = app;
        await using var browser = await Chromium.LaunchAsync();
        await using var page = await browser.NewPageAsync();
        await page.SetViewportAsync(new ViewPortOptions { Width = 1280, Height = 900 });

        // The overview: counts, the worker, the failure.
        await page.GoToAsync(url + "/rrq/");
        Assert.Equal("3", (await TextAsync(page, "#count-complete .n")).Trim());
        Assert.Equal("1", (await TextAsync(page, "#count-failed .n")).Trim());
        Assert.Contains("ERROR 1", await TextAsync(page, "#count-failed .label"));
        Assert.Contains(spawned.Id, await TextAsync(page, "#workers"));
        Assert.Contains("fit_model(x, null)", await TextAsync(page, "#failures"));
        await Chromium.ScreenshotAsync(page, "overview");

        // Live: a task submitted now shows in the counts without a reload (server-sent events).
        await page.WaitForSelectorAsync("body[data-live='1']");
        var more = obj.TaskCreateExpr("fit_model(x, x)", new { x = new[] { 5.0, 6.0 } });
        Assert.True(obj.TaskWait(more, TimeSpan.FromSeconds(60)));
        await page.WaitForFunctionAsync("() => document.querySelector('#count-complete .n').textContent.trim() === '4'",
            new WaitForFunctionOptions { Timeout = 15_000 });

        // The failed task: its error, its trace with the .csx line, and that line's source.
        await ClickAndWaitAsync(page, $"#failures a[href$='/task/{bad}']");
        Assert.Contains("Value cannot be null", await TextAsync(page, "#error"));
        Assert.Contains("fault.csx:line 6", await TextAsync(page, "#trace"));
        Assert.Contains("ArgumentNullException.ThrowIfNull(y);", await TextAsync(page, ".source tr.hit"));
        Assert.Contains("fit_model(x, null)", await TextAsync(page, "#expression"));
        Assert.Contains("double[]", await TextAsync(page, "#locals"));
        await Chromium.ScreenshotAsync(page, "task-error");

        // Retry: the page goes to the new task, whose chain links back to the MOVED one.
        await ClickAndWaitAsync(page, "#action-retry");
        var retried = obj.TaskInfo(bad).Moved.Down.Single();
        Assert.EndsWith("/rrq/task/" + retried, page.Url);
        obj.TaskWait(retried, TimeSpan.FromSeconds(60));
        await page.ReloadAsync();
        var chain = await TextAsync(page, "#chain");
        Assert.Contains(bad, chain);
        Assert.Contains("MOVED", chain);
        Assert.Contains("ERROR", chain);
        Assert.NotNull(await page.QuerySelectorAsync($"#chain a[href$='/task/{bad}']"));
        await Chromium.ScreenshotAsync(page, "retry-chain");

        // Lists and the worker.
        await page.GoToAsync(url + "/rrq/tasks/complete");
        Assert.Equal(4, (await page.QuerySelectorAllAsync("#tasks a.id")).Length);
        await Chromium.ScreenshotAsync(page, "tasks-complete");
        await page.GoToAsync(url + "/rrq/worker/" + spawned.Id);
        Assert.Contains("TASK_COMPLETE", await TextAsync(page, "#worker-log"));
        Assert.NotNull(await page.QuerySelectorAsync("#action-stop"));
        await Chromium.ScreenshotAsync(page, "worker");

        // Read-only: no buttons, and an action sent anyway is refused and changes nothing.
        await page.GoToAsync(url + "/ro/task/" + retried);
        Assert.Null(await page.QuerySelectorAsync("#action-retry"));
        Assert.Contains("Read-only", await TextAsync(page, "#readonly"));
        var refused = await page.EvaluateFunctionAsync<int>(
            "async u => (await fetch(u, { method: 'POST', headers: { 'X-Rrq-Action': '1' } })).status", url + "/ro/task/" + retried + "/retry");
        Assert.Equal(403, refused);
        Assert.Equal(RrqTaskStatus.Error, obj.TaskStatus(retried, follow: false));
        await Chromium.ScreenshotAsync(page, "read-only");
    }

    [Fact]
    public async Task Pages_answer_unknown_ids_and_groups_with_404_and_actions_check_their_header_and_the_tasks_state()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var (app, url) = await ServeAsync(obj);
        await using var _ = app;
        using var http = new HttpClient();
        var missing = await http.GetAsync(url + "/rrq/task/0123456789abcdef");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Contains("No task &#x27;0123456789abcdef&#x27;", await missing.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync(url + "/rrq/tasks/sideways")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync(url + "/rrq/worker/nobody")).StatusCode);

        var t = obj.TaskCreateExpr("1");
        // A form on another site cannot add the header: refused.
        var noHeader = await http.PostAsync(url + $"/rrq/task/{t}/cancel", null);
        Assert.Equal(HttpStatusCode.BadRequest, noHeader.StatusCode);
        Assert.Equal(RrqTaskStatus.Pending, obj.TaskStatus(t));
        async Task<HttpResponseMessage> Act(string path)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, url + path);
            request.Headers.Add("X-Rrq-Action", "1");
            return await http.SendAsync(request);
        }
        // Retry of a task that has not finished: refused with the controller's reason.
        var early = await Act($"/rrq/task/{t}/retry");
        Assert.Equal(HttpStatusCode.Conflict, early.StatusCode);
        Assert.Contains(t, await early.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, (await Act($"/rrq/task/{t}/cancel")).StatusCode);
        Assert.Equal(RrqTaskStatus.Cancelled, obj.TaskStatus(t));
        // A second press changes nothing, and says why.
        var again = await Act($"/rrq/task/{t}/cancel");
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Contains("is not cancelable (CANCELLED)", await again.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await Act($"/rrq/task/{t}/explode")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Act("/rrq/worker/nobody/stop")).StatusCode);
        var deleted = await Act($"/rrq/task/{t}/delete");
        Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        Assert.Equal(RrqTaskStatus.Missing, obj.TaskStatus(t));
    }

    [Fact]
    public async Task Rrq_worker_dashboard_serves_a_queue_read_only_by_default_and_with_allow_actions_kills_a_worker()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var spawned = await q.SpawnAsync();
        var slow = obj.TaskCreateExpr("System.Threading.Thread.Sleep(60_000)");
        await Poll.Until(() => obj.TaskStatus(slow) == RrqTaskStatus.Running);

        // Refused on an address other machines reach.
        var (code, _, err) = await RrqWorkerCli.RunAsync("dashboard", q.QueueId, "--redis", RedisServer.Instance.Address,
            "--allow-actions", "--host", "0.0.0.0", "--port", "0");
        Assert.Equal(1, code);
        Assert.Contains("--allow-actions lets anyone who reaches the server", err);

        using var http = new HttpClient();
        await using (var ro = await DashboardProcess.StartAsync(q.QueueId))
        {
            var html = await http.GetStringAsync(ro.Url);
            Assert.Contains("Queue " + q.QueueId, html);
            Assert.Contains(spawned.Id, html);
            using var request = new HttpRequestMessage(HttpMethod.Post, ro.Url + $"worker/{spawned.Id}/kill");
            request.Headers.Add("X-Rrq-Action", "1");
            Assert.Equal(HttpStatusCode.Forbidden, (await http.SendAsync(request)).StatusCode);
            Assert.True(spawned.IsAlive(spawned.Id));
        }
        await using (var rw = await DashboardProcess.StartAsync(q.QueueId, "--allow-actions"))
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, rw.Url + $"worker/{spawned.Id}/kill");
            request.Headers.Add("X-Rrq-Action", "1");
            var killed = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, killed.StatusCode);
            await Poll.Until(() => !spawned.IsAlive(spawned.Id));
            Assert.Equal(RrqTaskStatus.Died, obj.TaskStatus(slow));
            Assert.Equal(RrqWorkerStatus.Exited, obj.WorkerStatus(spawned.Id));
        }
    }

    [Fact]
    public async Task The_dashboard_command_connected_through_Sentinel_shows_the_queue_before_and_after_a_failover()
    {
        using var set = new SentinelSet();
        await using var obj = await RrqController.ConnectAsync($"rrq-test:dashboard-sentinel:{Guid.NewGuid():N}", set.ConnectionString);
        obj.Durability = new RrqDurability();
        var id = await obj.TaskCreateExprAsync("1");
        using var http = new HttpClient();
        await using var dashboard = await DashboardProcess.StartOnAsync(set.ConnectionString, obj.QueueId);
        Assert.Contains("Queue " + obj.QueueId, await http.GetStringAsync(dashboard.Url));
        var old = set.KillMaster();
        await Poll.Until(() => set.Master() is var m && m != 0 && m != old, 60);
        await Poll.Until(async () => (await http.GetAsync(dashboard.Url + $"task/{id}")).IsSuccessStatusCode, 60);
        Assert.Contains(id, await http.GetStringAsync(dashboard.Url + $"task/{id}"));
    }

    /// <summary>A running <c>rrq-worker dashboard</c> process, killed on dispose.</summary>
    private sealed class DashboardProcess : IAsyncDisposable
    {
        private readonly System.Diagnostics.Process _process;

        private DashboardProcess(System.Diagnostics.Process process, string url) => (_process, Url) = (process, url);

        public string Url { get; }

        public static Task<DashboardProcess> StartAsync(string queueId, params string[] extra) => StartOnAsync(RedisServer.Instance.Address, queueId, extra);

        public static async Task<DashboardProcess> StartOnAsync(string redis, string queueId, params string[] extra)
        {
            var psi = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in (string[])[RrqWorkerCli.Dll, "dashboard", queueId,
                "--redis", redis, "--port", "0", .. extra])
            {
                psi.ArgumentList.Add(a);
            }
            var p = System.Diagnostics.Process.Start(psi)!;
            var line = await p.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60))
                ?? throw new InvalidOperationException("rrq-worker dashboard said nothing: " + await p.StandardError.ReadToEndAsync());
            var url = System.Text.RegularExpressions.Regex.Match(line, @"http://\S+/").Value;
            Assert.StartsWith("http://127.0.0.1:", url);
            Assert.Contains(extra.Contains("--allow-actions") ? "actions allowed" : "read-only", line);
            return new DashboardProcess(p, url);
        }

        public async ValueTask DisposeAsync()
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
            _process.Dispose();
        }
    }
}
