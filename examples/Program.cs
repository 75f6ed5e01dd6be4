using Rrq.Scripting;

// Runs a .csx file (default: examples.csx in the current folder) with Rrq referenced, as `rrq-worker run`
// does, in an app that also carries the embedded server: with no Redis configured and none on
// localhost:6379, the script's controller starts Garnet in this process and its workers connect to it.
var file = args.Length > 0 ? args[0] : "examples.csx";
if (!File.Exists(file))
{
    Console.Error.WriteLine($"rrq-examples: there is no '{file}' in {Environment.CurrentDirectory}. " +
        "Run it from the repository root (dotnet run --project examples), or give the path of a .csx file.");
    return 2;
}
using var cts = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cts.Cancel(); };
return await RrqScriptHost.RunFileAsync(file, args.Length > 1 ? args[1..] : [], Console.Error, cts.Token).ConfigureAwait(false);
