using System.Text.Json;
using Rrq.Tests.Support;

namespace Rrq.Tests.Examples;

/// <summary>Executes examples/rrq.ipynb headless with the dotnet-repl tool of the repository's tool
/// manifest, as a notebook user would run it, and reads the outputs of the executed notebook.</summary>
public class NotebookTests
{
    [Fact]
    public async Task The_notebook_runs_headless_and_renders_a_value_an_error_statuses_task_info_and_a_worker()
    {
        var root = ExamplesTests.RepositoryRoot();
        var examples = Path.Combine(root, "examples");
        // The notebook's #r lines name the Release build of the examples app, beside it (incremental: quick when built).
        await Dotnet.RunOkAsync(root, TimeSpan.FromMinutes(5), "build", "examples", "-c", "Release");
        await Dotnet.RunOkAsync(root, TimeSpan.FromMinutes(3), "tool", "restore");
        var executed = Path.Combine(Path.GetTempPath(), $"rrq-notebook-{Guid.NewGuid():N}.ipynb");
        // As a newcomer runs it: no Redis configured and none on localhost:6379, so the kernel starts the embedded
        // Garnet server (which must find its native Lua there) and the spawned worker connects to it.
        Assert.False(await Rrq.Controller.RedisAddress.Resolve("localhost:6379").AnswersAsync(),
            "this test runs the notebook with no Redis configured and needs nothing listening on localhost:6379");
        try
        {
            await Dotnet.RunOkAsync(examples, TimeSpan.FromMinutes(4), new Dictionary<string, string?> { ["RRQ_REDIS"] = null, ["REDIS_URL"] = null },
                "repl", "--run", "rrq.ipynb", "--exit-after-run", "--output-format", "ipynb", "--output-path", executed);
            using var nb = JsonDocument.Parse(await File.ReadAllTextAsync(executed));
            var cells = nb.RootElement.GetProperty("cells").EnumerateArray()
                .Where(c => c.GetProperty("cell_type").GetString() == "code")
                .Select(c => (Source: string.Concat(c.GetProperty("source").EnumerateArray().Select(s => s.GetString())),
                              Outputs: c.GetProperty("outputs").EnumerateArray().ToArray()))
                .ToArray();
            Assert.Equal(10, cells.Length);
            Assert.All(cells, c => Assert.DoesNotContain(c.Outputs, o => o.GetProperty("output_type").GetString() == "error"));

            string Html(string startsWith)
            {
                var cell = cells.Single(c => c.Source.StartsWith(startsWith, StringComparison.Ordinal));
                return string.Concat(cell.Outputs.SelectMany(o => o.TryGetProperty("data", out var d) && d.TryGetProperty("text/html", out var h)
                    ? h.EnumerateArray().Select(s => s.GetString()) : []));
            }
            Assert.StartsWith("<code>&lt;rrq_controller: notebook:", Html("var obj"));
            var connectOutput = string.Concat(cells.Single(c => c.Source.StartsWith("var obj", StringComparison.Ordinal)).Outputs
                .Where(o => o.TryGetProperty("text", out _)).SelectMany(o => o.GetProperty("text").EnumerateArray().Select(t => t.GetString())));
            Assert.Contains("No Redis configured and none at localhost:6379: started an embedded Garnet server at 127.0.0.1:", connectOutput);
            var fit = Html("var rng");
            Assert.Contains("LinearFit", fit);
            Assert.Contains("<td>Slope</td><td>1.96", fit);
            var error = Html("var bad");
            Assert.Contains("&lt;rrq_task_error&gt;</b> <code>ERROR</code>", error);
            Assert.Contains("<b>error:</b> Value cannot be null. (Parameter &#39;y&#39;)", error);
            Assert.Contains("<b>from:</b> <code>fit_model(double[], double[]) at fault.csx:8</code>", error);
            Assert.Contains("<details><summary>stack trace</summary>", error);
            Assert.Contains("in fault.csx:line 8", error);
            var statuses = Html("obj.TaskStatus");
            Assert.Contains("<td>0</td><td><code>COMPLETE</code></td>", statuses);
            Assert.Contains("<td>1</td><td><code>ERROR</code></td>", statuses);
            var info = Html("obj.TaskInfo");
            Assert.Contains("&lt;rrq_task_info&gt;", info);
            Assert.Contains("<td>status</td><td><code>ERROR</code></td>", info);
            // A task on a queue nobody serves: false at the timeout, and the reason under the cell.
            var stray = cells.Single(c => c.Source.StartsWith("var stray", StringComparison.Ordinal));
            Assert.Contains("False", Html("var stray"), StringComparison.OrdinalIgnoreCase);
            var strayText = string.Concat(stray.Outputs.Where(o => o.TryGetProperty("text", out _))
                .SelectMany(o => o.GetProperty("text").EnumerateArray().Select(t => t.GetString())));
            Assert.Contains("⚠ TaskWait: no live worker listens to queue 'gpu'", strayText);
            Assert.Contains("the 1 live worker listens to 'default'", strayText);
            Assert.Equal("<code>IDLE</code>", Html("obj.WorkerStatus"));
            var worker = Html("obj.WorkerInfo");
            Assert.Contains("<tr><th>worker</th><th>host</th><th>pid</th>", worker);                  // one table, a row per worker
            Assert.Contains($"<td>{System.Net.WebUtility.HtmlEncode(Environment.MachineName)}</td>", worker);
        }
        finally
        {
            File.Delete(executed);
        }
    }

    [Fact]
    public async Task A_cell_referencing_a_missing_assembly_fails_naming_the_file_and_its_line()
    {
        var root = ExamplesTests.RepositoryRoot();
        await Dotnet.RunOkAsync(root, TimeSpan.FromMinutes(3), "tool", "restore");
        var dir = Directory.CreateTempSubdirectory("rrq-nb-").FullName;
        try
        {
            var cell = new
            {
                cell_type = "code", execution_count = (int?)null, metadata = new { }, outputs = Array.Empty<object>(),
                source = new[] { "// needs a library that was never built\n", "#r \"../lib/Missing.Library.dll\"\n", "1 + 1" },
            };
            var notebook = new
            {
                cells = new[] { cell },
                metadata = new { kernelspec = new { display_name = ".NET (C#)", language = "C#", name = ".net-csharp" } },
                nbformat = 4, nbformat_minor = 5,
            };
            await File.WriteAllTextAsync(Path.Combine(dir, "bad.ipynb"), JsonSerializer.Serialize(notebook));
            var executed = Path.Combine(dir, "out.ipynb");
            // Run from the repository, where the tool manifest is; the missing path is relative to it.
            var code = (await Dotnet.RunAsync(root, TimeSpan.FromMinutes(4), "repl", "--run", Path.Combine(dir, "bad.ipynb"), "--exit-after-run",
                "--output-format", "ipynb", "--output-path", executed)).ExitCode;
            Assert.NotEqual(0, code);
            using var nb = JsonDocument.Parse(await File.ReadAllTextAsync(executed));
            var error = nb.RootElement.GetProperty("cells")[0].GetProperty("outputs").EnumerateArray()
                .Single(o => o.GetProperty("output_type").GetString() == "error").GetProperty("evalue").GetString();
            Assert.Contains("(2,1): error CS0006", error);
            Assert.Contains("../lib/Missing.Library.dll", error);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
