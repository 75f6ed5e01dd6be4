using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Rrq.Dashboard;

/// <summary>The dashboard as a program of its own (<c>rrq-worker dashboard</c>): a small web server for one queue.</summary>
internal static class DashboardServer
{
    /// <summary>The policy that lets anyone who can reach the server act (<c>--allow-actions</c>, loopback only).</summary>
    public const string LocalActions = "rrq-local-actions";

    /// <summary>Serves the dashboard of <paramref name="obj"/>'s queue at the root of http://host:port/ until
    /// <paramref name="cancellationToken"/> is cancelled; prints its address once it listens.</summary>
    public static async Task RunAsync(RrqController obj, string host, int port, bool allowActions, TextWriter output,
        CancellationToken cancellationToken)
    {
        var loopback = host == "localhost" || (IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip));
        if (allowActions && !loopback)
        {
            throw new ArgumentException($"--allow-actions lets anyone who reaches the server retry, delete and kill; it is refused " +
                $"with --host {host}, which other machines can reach. Serve the dashboard from an app with authentication " +
                "(MapRrqDashboard with an ActionsPolicy), or keep --host on loopback and reach it through an SSH tunnel.");
        }
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://{(host.Contains(':', StringComparison.Ordinal) ? $"[{host}]" : host)}:{port}");
        builder.Services.AddAuthorization(o =>
        {
            if (allowActions)
            {
                o.AddPolicy(LocalActions, p => p.RequireAssertion(_ => true));
            }
        });
        await using var app = builder.Build();
        app.MapRrqDashboard("/", o =>
        {
            o.Controller = obj;
            o.ActionsPolicy = allowActions ? LocalActions : null;
        });
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
            ?? $"http://{host}:{port}";
        await output.WriteLineAsync($"Rrq dashboard of queue {obj.QueueId} on {address}/ " +
            $"({(allowActions ? "actions allowed" : "read-only")}; Ctrl-C to stop)");
        await output.FlushAsync(cancellationToken);
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        catch (OperationCanceledException)
        {
        }
        await app.StopAsync(CancellationToken.None);
    }
}
