using System.Threading.Channels;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace Rrq.Dashboard;

/// <summary>
/// The dashboard's stream of server-sent events: a <c>change</c> event whenever something is published on the queue's
/// channels (a task finished, a worker was messaged, a queue got work), at most four a second, and one every
/// refresh interval when nothing was (submissions and worker starts publish nothing). Each open page refreshes its content
/// on each event. One subscription handler per open page, removed when the page closes.
/// </summary>
internal sealed class DashboardEvents(TimeSpan interval)
{
    public async Task StreamAsync(HttpContext http, RrqController obj)
    {
        // Ends with the page, or when the app stops (an open stream would otherwise hold its shutdown for its whole timeout).
        var stopping = http.RequestServices.GetService<IHostApplicationLifetime>()?.ApplicationStopping ?? CancellationToken.None;
        using var ended = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, stopping);
        var token = ended.Token;
        http.Response.Headers.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-store";
        http.Response.Headers["X-Accel-Buffering"] = "no";   // a proxy in front must not hold events back
        var signal = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
        void Handler(RedisChannel _, RedisValue __) => signal.Writer.TryWrite(true);
        var subscriber = obj.Redis.GetSubscriber();
        var names = await obj.QueueNamesAsync(token);
        RedisChannel[] channels = [obj.Keys.TaskCompleteChannel, obj.Keys.WorkersChannel,
            .. names.Append(Rrq.Keys.RrqKeys.DefaultQueue).Distinct(StringComparer.Ordinal).Select(obj.Keys.QueueChannel)];
        foreach (var c in channels)
        {
            await subscriber.SubscribeAsync(c, Handler);
        }
        try
        {
            await http.Response.WriteAsync("retry: 2000\n\n: connected\n\n", token);
            await http.Response.Body.FlushAsync(token);
            while (!token.IsCancellationRequested)
            {
                string what;
                using (var wait = CancellationTokenSource.CreateLinkedTokenSource(token))
                {
                    wait.CancelAfter(interval);
                    try
                    {
                        await signal.Reader.ReadAsync(wait.Token);
                        what = "published";
                    }
                    catch (OperationCanceledException) when (!token.IsCancellationRequested)
                    {
                        what = "interval";
                    }
                }
                await http.Response.WriteAsync($"event: change\ndata: {what}\n\n", token);
                await http.Response.Body.FlushAsync(token);
                await Task.Delay(250, token);
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // The page was closed.
        }
        catch (IOException)
        {
            // The connection went.
        }
        finally
        {
            foreach (var c in channels)
            {
                await subscriber.UnsubscribeAsync(c, Handler);
            }
        }
    }
}
