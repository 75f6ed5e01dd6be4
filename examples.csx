// Rrq for .NET, walking rrq's "Fault tolerance" vignette in C#.
// Run it with:  dotnet run --project Rrq.WorkerRunner -- run examples.csx
using Rrq;

var queueId = "rrq:" + Guid.NewGuid().ToString("N")[..8];
var obj = RrqController.Connect(queueId);
Console.WriteLine(obj);

// ## Error handling
obj.WorkerEnvirSet(new RrqEnvir(Sources: ["examples/fault.csx"]));
var w = obj.WorkerSpawn();

var rng = new Random(1);
var x = Enumerable.Range(0, 5).Select(_ => rng.NextDouble()).ToArray();
var y = x.Select(v => 2 * v + (rng.NextDouble() - 0.5) * 0.4).ToArray();

var t = obj.TaskCreateExpr("fit_model(x, y)", new { x, y });
Console.WriteLine($"wait: {obj.TaskWait(t, TimeSpan.FromSeconds(10))}");
Console.WriteLine($"status: {obj.TaskStatus(t)}");
Console.WriteLine(obj.TaskResult(t));

// With invalid input the task errors; the error comes back as a value.
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

obj.WorkerStop();
obj.Dispose();
