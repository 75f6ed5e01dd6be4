using Rrq.Scripting;

namespace Rrq.Tests.Support;

/// <summary>A fresh queue on the test server for one test, with helpers; deletes its keys at the end.</summary>
public sealed class TestQueue : IAsyncDisposable
{
    private readonly List<RrqWorker> _workers = [];
    private readonly List<RrqWorkerSpawnResult> _spawned = [];

    private TestQueue(RrqController controller) => Controller = controller;

    public RrqController Controller { get; }

    public string QueueId => Controller.QueueId;

    public static async Task<TestQueue> CreateAsync(bool follow = true, TimeSpan? timeoutTaskWait = null, [System.Runtime.CompilerServices.CallerMemberName] string test = "")
    {
        var id = $"rrq-test:{Shorten(test)}:{Guid.NewGuid():N}";
        var controller = await RrqController.ConnectAsync(id, RedisServer.Instance.Address, follow, timeoutTaskWait);
        return new TestQueue(controller);
    }

    private static string Shorten(string s) => s.Length <= 40 ? s : s[..40];

    /// <summary>An in-process worker (Roslyn evaluator) to drive step by step.</summary>
    public async Task<RrqWorker> WorkerAsync(string? name = null, string config = "localhost", TimeProvider? time = null)
    {
        var w = await RrqWorker.CreateAsync(Controller, new RoslynTaskEvaluator(), name, config, output: null, time);
        _workers.Add(w);
        return w;
    }

    /// <summary>Real rrq-worker processes.</summary>
    public async Task<RrqWorkerSpawnResult> SpawnAsync(int n = 1, string config = "localhost")
    {
        var r = await Controller.WorkerSpawnAsync(n, config, TimeSpan.FromSeconds(60));
        _spawned.Add(r);
        return r;
    }

    public static string Env(string file) => Path.Combine(AppContext.BaseDirectory, "Environments", file);

    public async ValueTask DisposeAsync()
    {
        foreach (var s in _spawned)
        {
            s.Kill();
        }
        foreach (var w in _workers)
        {
            // A test that failed while its task was held (a Gate never opened) must not hang the run: after a
            // while the worker leaves without waiting for the task, which becomes DIED.
            using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            {
                await w.StopAsync(cancellationToken: cts.Token);
            }
            await w.DisposeAsync();
        }
        var server = RedisServer.Instance.Connection.GetServer(RedisServer.Instance.Address);
        var db = RedisServer.Instance.Connection.GetDatabase();
        await foreach (var key in server.KeysAsync(pattern: "{" + QueueId + "}:*"))
        {
            await db.KeyDeleteAsync(key);
        }
        await Controller.DisposeAsync();
    }
}
