using System.Reflection;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Rrq.Dashboard.Pages;

namespace Rrq.Dashboard;

/// <summary>Maps Rrq's dashboard into an ASP.NET Core app.</summary>
public static class RrqDashboardExtensions
{
    /// <summary>
    /// Serves the dashboard of a queue under <paramref name="prefix"/>: the overview, tasks by status, one task, one
    /// worker, and a stream of server-sent events that keeps open pages up to date. Actions (retry, cancel, delete; stop,
    /// kill) need <see cref="RrqDashboardOptions.ActionsPolicy"/>; without it the dashboard is read-only. To restrict who
    /// may read it, add <c>.RequireAuthorization(...)</c> to the builder this returns.
    /// </summary>
    /// <param name="endpoints">The app (<c>app</c> in Program.cs).</param>
    /// <param name="prefix">Where it lives, e.g. "/rrq".</param>
    /// <param name="configure">Sets its options.</param>
    /// <returns>The group of its endpoints, for conventions such as <c>RequireAuthorization</c>.</returns>
    public static RouteGroupBuilder MapRrqDashboard(this IEndpointRouteBuilder endpoints, string prefix = "/rrq",
        Action<RrqDashboardOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(prefix);
        var options = new RrqDashboardOptions();
        configure?.Invoke(options);
        options.Validate();
        prefix = prefix.Trim('/');
        prefix = prefix.Length == 0 ? "" : "/" + prefix;   // links are prefix + "/..."; the root is ""
        var group = endpoints.MapGroup(prefix.Length == 0 ? "/" : prefix);
        var events = new DashboardEvents(options.RefreshInterval);

        group.MapGet("/", (Func<HttpContext, Task<IResult>>)(http => PageAsync(http, options, prefix, (obj, page) => page.OverviewAsync(obj))));
        group.MapGet("/tasks/{group}", (HttpContext http, string group, long? page) =>
            PageAsync(http, options, prefix, (obj, p) => p.TasksAsync(obj, group, page ?? 1)));
        group.MapGet("/task/{id}", (HttpContext http, string id) => PageAsync(http, options, prefix, (obj, p) => p.TaskAsync(obj, id)));
        group.MapGet("/worker/{id}", (HttpContext http, string id) => PageAsync(http, options, prefix, (obj, p) => p.WorkerAsync(obj, id)));
        group.MapGet("/events", (Func<HttpContext, Task>)(http => events.StreamAsync(http, ControllerOf(http, options))));
        group.MapGet("/assets/{name}", (string name) => Asset(name));

        var task = group.MapPost("/task/{id}/{action}", (HttpContext http, string id, string action) =>
            ActAsync(http, options, () => DashboardActions.TaskAsync(ControllerOf(http, options), prefix, id, action)));
        var worker = group.MapPost("/worker/{id}/{action}", (HttpContext http, string id, string action) =>
            ActAsync(http, options, () => DashboardActions.WorkerAsync(ControllerOf(http, options), prefix, id, action)));
        if (options.ActionsPolicy is { } policy)
        {
            task.RequireAuthorization(policy);
            worker.RequireAuthorization(policy);
        }
        return group;
    }

    internal static RrqController ControllerOf(HttpContext http, RrqDashboardOptions options) =>
        options.Controller ?? http.RequestServices.GetService<RrqController>()
        ?? throw new InvalidOperationException("The Rrq dashboard has no queue to show: register a controller with services.AddRrq() " +
            "(package Rrq.Hosting), or set RrqDashboardOptions.Controller in MapRrqDashboard.");

    private static async Task<IResult> PageAsync(HttpContext http, RrqDashboardOptions options, string prefix,
        Func<RrqController, DashboardPages, Task<DashboardPage>> render)
    {
        var obj = ControllerOf(http, options);
        var canAct = options.ActionsPolicy is { } policy
            && (await http.RequestServices.GetRequiredService<IAuthorizationService>().AuthorizeAsync(http.User, policy)).Succeeded;
        var pages = new DashboardPages(new PageContext(prefix, options, canAct), http.RequestServices, http.RequestAborted);
        DashboardPage page;
        try
        {
            page = await render(obj, pages);
        }
        catch (RrqException e)
        {
            page = await pages.ProblemAsync("Redis could not be read", e.Message, StatusCodes.Status503ServiceUnavailable);
        }
        var fragment = http.Request.Headers.ContainsKey("X-Rrq-Fragment");
        var html = fragment ? page.Main : await pages.LayoutAsync(obj, page);
        http.Response.Headers.CacheControl = "no-store";
        return Results.Content(html, "text/html; charset=utf-8", statusCode: page.Status);
    }

    private static async Task<IResult> ActAsync(HttpContext http, RrqDashboardOptions options, Func<Task<ActionOutcome>> act)
    {
        if (options.ActionsPolicy is null)
        {
            return Results.Json(new ActionOutcome(StatusCodes.Status403Forbidden,
                "This dashboard is read-only: the app that serves it named no authorization policy for actions " +
                "(RrqDashboardOptions.ActionsPolicy in MapRrqDashboard; rrq-worker dashboard --allow-actions)."), statusCode: StatusCodes.Status403Forbidden);
        }
        // The page's own script sends this header; a form or link on another site cannot (a custom header needs CORS).
        if (!http.Request.Headers.ContainsKey("X-Rrq-Action"))
        {
            return Results.Json(new ActionOutcome(StatusCodes.Status400BadRequest,
                "An action must come from the dashboard's buttons (header X-Rrq-Action missing)."), statusCode: StatusCodes.Status400BadRequest);
        }
        var outcome = await act();
        return Results.Json(outcome, statusCode: outcome.Status);
    }

    private static IResult Asset(string name)
    {
        var type = Path.GetExtension(name) switch { ".css" => "text/css; charset=utf-8", ".js" => "text/javascript; charset=utf-8", _ => null };
        var stream = type is null ? null : Assembly.GetExecutingAssembly().GetManifestResourceStream("Rrq.Dashboard." + name);
        return stream is null ? Results.NotFound() : Results.Stream(stream, type);
    }
}

/// <summary>What an action did: its HTTP status, a message for the page, and where to go next (the new task of a retry).</summary>
internal sealed record ActionOutcome(int Status, string Message, string? Redirect = null);
