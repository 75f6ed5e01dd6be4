// Rrq for .NET, walking rrq's "Fault tolerance" vignette in C#.
// Run it with:  dotnet run --project examples        (or: rrq-worker run examples.csx, with a Redis)
// It uses the Redis in RRQ_REDIS (or localhost:6379), else an embedded Garnet server.
// The #r lines are for dotnet-script, which needs `dotnet build examples -c Release` first;
// rrq-worker answers them with its own copies of these assemblies, built or not.
#r "examples/bin/Release/net10.0/Rrq.Core.dll"
#r "examples/bin/Release/net10.0/Rrq.Scripting.dll"
using System.Diagnostics;
using System.Threading;
using Rrq;

var queueId = "rrq:" + Guid.NewGuid().ToString("N")[..8];
var obj = RrqController.Connect(queueId);
Console.WriteLine(obj);

void Section(string title) => Console.WriteLine($"\n## {title}\n");
string Status(string id) => obj.TaskStatus(id).ToRedisString();
string WorkerStatus(string id) => obj.WorkerStatus(id).ToRedisString();
void UntilRunning(string id)
{
    while (obj.TaskStatus(id) != RrqTaskStatus.Running) Thread.Sleep(20);
}

// ---------------------------------------------------------------------------------------------
Section("Error handling");

obj.WorkerEnvirSet(new RrqEnvir(Sources: ["examples/fault.csx"]));
var w = obj.WorkerSpawn();

var rng = new Random(1);
var x = Enumerable.Range(0, 5).Select(_ => rng.NextDouble()).ToArray();
var y = x.Select(v => 2 * v + (rng.NextDouble() - 0.5) * 0.4).ToArray();

// In the happy case, everything works as expected.
var t = obj.TaskCreateExpr("fit_model(x, y)", new { x, y });
Console.WriteLine($"wait: {obj.TaskWait(t, TimeSpan.FromSeconds(10))}");
Console.WriteLine($"status: {Status(t)}");
Console.WriteLine(obj.TaskResult(t));

// With invalid input the task errors; the error comes back as a value, not an exception.
t = obj.TaskCreateExpr("fit_model(x, null)", new { x });
Console.WriteLine($"wait: {obj.TaskWait(t, TimeSpan.FromSeconds(10))}");
var r = obj.TaskResult(t);
Console.WriteLine(r);
Console.WriteLine($"is RrqTaskError: {r is RrqTaskError}");
var err = (RrqTaskError)r!;
Console.WriteLine(err.Trace);

// error: true throws it instead.
try
{
    obj.TaskResult(t, error: true);
}
catch (RrqTaskError e)
{
    Console.WriteLine($"Error in {e.From}: {e.Message}");
}

// ---------------------------------------------------------------------------------------------
Section("Increasing resilience via separate processes");

obj.TaskWait(obj.TaskCreateExpr("1"), TimeSpan.FromSeconds(10));   // the first compiles "1"
var sw = Stopwatch.StartNew();
obj.TaskWait(obj.TaskCreateExpr("1"), TimeSpan.FromSeconds(10));
Console.WriteLine($"in the worker's process: {sw.Elapsed.TotalMilliseconds:0.0} ms");
// The first separate-process task starts a child; after it, the worker keeps one ready, which
// takes a few seconds to start .NET and warm up the compiler.
obj.TaskWait(obj.TaskCreateExpr("1", separateProcess: true), TimeSpan.FromSeconds(30));
Thread.Sleep(4000);
sw.Restart();
obj.TaskWait(obj.TaskCreateExpr("1", separateProcess: true), TimeSpan.FromSeconds(30));
Console.WriteLine($"in a separate process: {sw.Elapsed.TotalMilliseconds:0.0} ms");

// A long task in a separate process; we kill its process to simulate a crash.
t = obj.TaskCreateExpr("System.Threading.Thread.Sleep(3_600_000)", separateProcess: true);
UntilRunning(t);
while (obj.TaskInfo(t).Pid is null) Thread.Sleep(20);
var info = obj.TaskInfo(t);
Console.WriteLine($"task pid: {info.Pid} (the worker's: {w.Pids[w.Id]})");
Process.GetProcessById(info.Pid!.Value).Kill();
obj.TaskWait(t, TimeSpan.FromSeconds(10));
Console.WriteLine($"status: {Status(t)}");
r = obj.TaskResult(t);
Console.WriteLine(r);
Console.WriteLine($"trace: {((RrqTaskError)r!).Trace ?? "null"}");

// ---------------------------------------------------------------------------------------------
Section("Loss of workers");

// Workers with a heartbeat can be detected when they disappear. (The vignette uses 3 s; 1 s keeps
// this short.) Stop the first worker so the new one is the one that takes the task.
obj.WorkerStop(timeout: TimeSpan.FromSeconds(30));
obj.WorkerConfigSave("localhost", new RrqWorkerConfig { HeartbeatPeriod = TimeSpan.FromSeconds(1) });
w = obj.WorkerSpawn();

t = obj.TaskCreateExpr("System.Threading.Thread.Sleep(3_600_000)");
UntilRunning(t);
Console.WriteLine($"status: {Status(t)}");
Console.WriteLine($"worker {w.Id}: {WorkerStatus(w.Id)}");

// Kill the worker, as a crash or the loss of its machine would.
w.Kill(w.Id);
Console.WriteLine($"status: {Status(t)}");
Console.WriteLine($"worker {w.Id}: {WorkerStatus(w.Id)}");

// Its heartbeat key expires after 3 periods; then it can be detected.
Thread.Sleep(TimeSpan.FromSeconds(3.5));
Console.WriteLine(obj.WorkerDetectExited());
Console.WriteLine($"status: {Status(t)}");
Console.WriteLine($"worker {w.Id}: {WorkerStatus(w.Id)}");
Console.WriteLine(obj.TaskResult(t));

// ---------------------------------------------------------------------------------------------
Section("Retrying tasks");

// A new environment, with a model that sometimes fails to converge, and a fresh worker for it.
obj.WorkerConfigSave("localhost", new RrqWorkerConfig());
obj.WorkerEnvirSet(new RrqEnvir(Sources: ["examples/fault2.csx"]));
w = obj.WorkerSpawn();

var t1 = obj.TaskCreateExpr("stochastic_failure(0.5)");
Console.WriteLine($"wait: {obj.TaskWait(t1, TimeSpan.FromSeconds(10))}");
Console.WriteLine(obj.TaskResult(t1));

// Oh no. Retry it: a new task id, running the same expression again.
var t2 = obj.TaskRetry(t1);
Console.WriteLine($"wait: {obj.TaskWait(t2, TimeSpan.FromSeconds(10))}");
Console.WriteLine(obj.TaskResult(t2));

var t3 = obj.TaskRetry(t2);
Console.WriteLine($"wait: {obj.TaskWait(t3, TimeSpan.FromSeconds(10))}");
Console.WriteLine(obj.TaskResult(t3));

// Any id of the chain reads as its newest task...
Console.WriteLine("results: " + string.Join(" ", obj.TaskResults([t1, t2, t3])));
// ...unless told not to follow: then the first two are their own errors.
foreach (var own in obj.TaskResults([t1, t2, t3], follow: false))
{
    Console.WriteLine(own);
}
Console.WriteLine("status: " + string.Join(" ", obj.TaskStatus([t1, t2, t3]).Select(s => s.ToRedisString())));
Console.WriteLine("status (follow: false): " + string.Join(" ", obj.TaskStatus([t1, t2, t3], follow: false).Select(s => s.ToRedisString())));
foreach (var times in obj.TaskTimes([t1, t2, t3], follow: false))
{
    Console.WriteLine($"{times.TaskId} submit {times.Submit:HH:mm:ss.fff} moved {(times.Moved is { } m ? m.ToString("HH:mm:ss.fff") : "NA")}");
}
Console.WriteLine($"t1 moved: {obj.TaskInfo(t1).Moved}");
Console.WriteLine($"t2 moved: {obj.TaskInfo(t2).Moved}");
Console.WriteLine($"t3 moved: {obj.TaskInfo(t3).Moved}");

// A controller that does not follow by default.
using (var noFollow = RrqController.Connect(obj.QueueId, obj.RedisConfiguration, follow: false))
{
    Console.WriteLine(noFollow.TaskResult(t1));
}

// Deleting any task of a chain deletes the whole chain.
obj.TaskDelete(t1);
Console.WriteLine("status after delete: " + string.Join(" ", obj.TaskStatus([t1, t2, t3], follow: false).Select(s => s.ToRedisString())));

obj.WorkerStop(timeout: TimeSpan.FromSeconds(30));
obj.Dispose();
