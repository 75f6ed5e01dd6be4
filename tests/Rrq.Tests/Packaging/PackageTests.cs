using System.Diagnostics;
using System.IO.Compression;
using System.Text.Json;
using System.Xml.Linq;
using Rrq.Tests.Examples;
using Rrq.Tests.Support;

namespace Rrq.Tests.Packaging;

/// <summary>
/// The packages as users get them: packed from a copy of the sources into a folder, then taken from that folder
/// only (a version no other source has) by a fresh console app, a fresh notebook, and <c>dotnet tool install</c>.
/// Nothing here references a project of the repository.
/// </summary>
[Trait("Category", "Packages")]
public sealed class PackageTests(PackageTests.Packed packed) : IClassFixture<PackageTests.Packed>
{
    /// <summary>The packages, packed once for the class into <see cref="Folder"/> with a version of their own.</summary>
    public sealed class Packed : IAsyncLifetime
    {
        public static readonly string[] Projects = ["Rrq.Core", "Rrq.Scripting", "Rrq.Embedded", "Rrq.Hosting", "Rrq.Dashboard", "Rrq.WorkerRunner"];
        public static readonly string[] Ids = ["Rrq", "Rrq.Scripting", "Rrq.Embedded", "Rrq.Hosting", "Rrq.Dashboard", "rrq-worker"];

        public string Work { get; } = Directory.CreateTempSubdirectory("rrq-packages-").FullName;
        public string Folder => Path.Combine(Work, "packages");
        public string Version { get; } = $"0.1.0-test.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}";

        public async Task InitializeAsync()
        {
            // Packed from a copy, so that this run's own build output is not rewritten under the running tests.
            var root = ExamplesTests.RepositoryRoot();
            var sources = Path.Combine(Work, "src");
            foreach (var file in new[] { "Directory.Build.props", "Directory.Packages.props", "global.json", "nuget.config", ".editorconfig", "LICENSE",
                         Path.Combine("docs", "package-readme.md") })
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(sources, file))!);
                File.Copy(Path.Combine(root, file), Path.Combine(sources, file));
            }
            foreach (var project in Projects)
            {
                CopySources(Path.Combine(root, project), Path.Combine(sources, project));
            }
            foreach (var project in Projects)
            {
                await Dotnet.RunOkAsync(sources, TimeSpan.FromMinutes(5), "pack", project, "-c", "Release", "-o", Folder, $"-p:Version={Version}");
            }
        }

        private static void CopySources(string from, string to)
        {
            Directory.CreateDirectory(to);
            foreach (var file in Directory.EnumerateFiles(from))
            {
                File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
            }
            foreach (var dir in Directory.EnumerateDirectories(from).Where(d => Path.GetFileName(d) is not ("bin" or "obj")))
            {
                CopySources(dir, Path.Combine(to, Path.GetFileName(dir)));
            }
        }

        public Task DisposeAsync()
        {
            Directory.Delete(Work, recursive: true);
            // This run's version in the NuGet cache is of no use to anyone after it.
            var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
            foreach (var id in Ids)
            {
                var dir = Path.Combine(cache, id.ToLowerInvariant(), Version);
                if (Directory.Exists(dir))
                {
                    Directory.Delete(dir, recursive: true);
                }
            }
            return Task.CompletedTask;
        }

        /// <summary>A nuget.config that takes Rrq's packages from the folder only, and anything else from the usual feed.</summary>
        public string NugetConfig() => $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="rrq-local" value="{Folder}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
              </packageSources>
              <packageSourceMapping>
                <packageSource key="rrq-local"><package pattern="Rrq" /><package pattern="Rrq.*" /><package pattern="rrq-worker" /></packageSource>
                <packageSource key="nuget.org"><package pattern="*" /></packageSource>
              </packageSourceMapping>
            </configuration>
            """;
    }

    private const string Functions = """
        double Square(double x) => x * x;

        double Fail(double x) => throw new InvalidOperationException($"no good: {x}");
        """;

    [Fact]
    public void Each_package_has_its_licence_readme_repository_and_symbols_and_only_Rrq_Embedded_carries_Garnet()
    {
        foreach (var id in Packed.Ids)
        {
            var nupkg = Path.Combine(packed.Folder, $"{id}.{packed.Version}.nupkg");
            Assert.True(File.Exists(Path.ChangeExtension(nupkg, ".snupkg")), $"{id} has no symbol package");
            using var zip = ZipFile.OpenRead(nupkg);
            var nuspec = XDocument.Load(zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open());
            var meta = nuspec.Root!.Elements().Single(e => e.Name.LocalName == "metadata");
            string? Field(string name) => meta.Elements().SingleOrDefault(e => e.Name.LocalName == name)?.Value;
            Assert.Equal(id, Field("id"));
            Assert.Equal("MIT", Field("license"));
            Assert.Equal("README.md", Field("readme"));
            Assert.NotNull(zip.GetEntry("README.md"));
            Assert.False(string.IsNullOrWhiteSpace(Field("description")));
            var repository = meta.Elements().Single(e => e.Name.LocalName == "repository");
            Assert.Equal("git", repository.Attribute("type")?.Value);
            Assert.StartsWith("https://", repository.Attribute("url")?.Value);
            var dependencies = meta.Descendants().Where(e => e.Name.LocalName == "dependency").Select(e => e.Attribute("id")!.Value).ToList();
            var files = zip.Entries.Select(e => e.FullName).ToList();
            if (id == "Rrq.Embedded")
            {
                Assert.Contains("Microsoft.Garnet", dependencies);
            }
            else
            {
                Assert.DoesNotContain("Microsoft.Garnet", dependencies);
                Assert.DoesNotContain(files, f => Path.GetFileName(f).StartsWith("Garnet", StringComparison.Ordinal));
            }
            if (id == "Rrq.Scripting")
            {
                // The worker travels with the library, with a build file that puts it in the app's output.
                Assert.Contains("tools/rrq-worker/rrq-worker.dll", files);
                Assert.Contains("tools/rrq-worker/rrq-worker.runtimeconfig.json", files);
                Assert.Contains("buildTransitive/Rrq.Scripting.targets", files);
                // It runs where only the .NET runtime is installed: `rrq-worker dashboard` loads ASP.NET Core itself.
                using var config = new StreamReader(zip.GetEntry("tools/rrq-worker/rrq-worker.runtimeconfig.json")!.Open());
                Assert.DoesNotContain("Microsoft.AspNetCore.App", config.ReadToEnd());
                Assert.Contains("tools/rrq-worker/Rrq.Dashboard.dll", files);
            }
        }
    }

    [Fact]
    public async Task A_fresh_console_app_with_Rrq_and_Rrq_Scripting_spawns_a_worker_and_reads_a_value_and_an_error_with_its_trace()
    {
        var app = await NewConsoleAppAsync("MyApp", ("Rrq", packed.Version), ("Rrq.Scripting", packed.Version));
        try
        {
            await File.WriteAllTextAsync(Path.Combine(app, "functions.csx"), Functions);
            await File.WriteAllTextAsync(Path.Combine(app, "Program.cs"), """
                using Rrq;

                await using var obj = await RrqController.ConnectAsync("app:" + Guid.NewGuid().ToString("N")[..8]);
                await obj.WorkerEnvirSetAsync(new RrqEnvir(Sources: ["functions.csx"]));
                var workers = obj.WorkerSpawn(1);
                var ok = obj.TaskCreateExpr("Square(x)", new { x = 3.0 });
                var bad = obj.TaskCreateExpr("Fail(x)", new { x = 2.0 });
                Console.WriteLine($"waited: {obj.TaskWait(ok, TimeSpan.FromSeconds(60))} {obj.TaskWait(bad, TimeSpan.FromSeconds(60))}");
                Console.WriteLine($"value: {obj.TaskResult(ok)}");
                var error = (RrqTaskError)obj.TaskResult(bad)!;
                Console.WriteLine($"error: {error.Message}");
                Console.WriteLine($"from: {error.From}");
                Console.WriteLine(error.Trace);
                obj.WorkerStop();
                """);
            var run = await Dotnet.RunOkAsync(app, TimeSpan.FromMinutes(4), "run", "-c", "Release");
            var lines = run.Output.Split('\n').Select(l => l.TrimEnd()).ToList();
            Assert.Contains("waited: True False", lines);
            Assert.Contains("value: 9", lines);
            Assert.Contains("error: no good: 2", lines);
            Assert.Contains("from: Fail(double) at functions.csx:3", lines);
            Assert.Contains(lines, l => l.Contains("at Fail(double x) in ", StringComparison.Ordinal) && l.EndsWith("functions.csx:line 3", StringComparison.Ordinal));

            // The worker came with Rrq.Scripting, into the app's output; Garnet did not.
            var output = Path.Combine(app, "bin", "Release", "net10.0");
            Assert.True(File.Exists(Path.Combine(output, "rrq-worker", "rrq-worker.dll")));
            Assert.Empty(Directory.EnumerateFiles(output, "Garnet*.dll", SearchOption.AllDirectories));
        }
        finally
        {
            Directory.Delete(app, recursive: true);
        }
    }

    [Fact]
    public async Task A_fresh_hosted_app_with_Rrq_Hosting_runs_workers_as_a_hosted_service_and_reports_health()
    {
        var app = await NewConsoleAppAsync("MyService", ("Rrq.Hosting", packed.Version), ("Rrq.Scripting", packed.Version),
            ("Microsoft.Extensions.Hosting", "10.0.13"));
        try
        {
            await File.WriteAllTextAsync(Path.Combine(app, "functions.csx"), Functions);
            await File.WriteAllTextAsync(Path.Combine(app, "Program.cs"), """
                using Microsoft.Extensions.DependencyInjection;
                using Microsoft.Extensions.Diagnostics.HealthChecks;
                using Microsoft.Extensions.Hosting;
                using Rrq;
                using Rrq.Hosting;

                var builder = Host.CreateApplicationBuilder(args);
                builder.Configuration["Rrq:QueueId"] = "hosted:" + Guid.NewGuid().ToString("N")[..8];
                builder.Configuration["Rrq:Worker:Count"] = "2";
                builder.Services.AddRrq();
                builder.Services.AddRrqWorker();
                builder.Services.AddHealthChecks().AddRrq(minimumWorkers: 2);
                using var host = builder.Build();
                var obj = host.Services.GetRequiredService<RrqController>();
                await obj.WorkerEnvirSetAsync(new RrqEnvir(Sources: ["functions.csx"]));
                await host.StartAsync();
                var t = await obj.TaskCreateExprAsync("Square(x)", new { x = 6.0 });
                Console.WriteLine($"waited: {await obj.TaskWaitAsync(t, TimeSpan.FromSeconds(60))}");
                Console.WriteLine($"value: {await obj.TaskResultAsync(t)}");
                var health = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
                Console.WriteLine($"health: {health.Status} ({health.Entries["rrq-workers"].Description})");
                await host.StopAsync();
                Console.WriteLine($"workers after stop: {(await obj.WorkerListAsync()).Count}");
                """);
            var run = await Dotnet.RunOkAsync(app, TimeSpan.FromMinutes(4), "run", "-c", "Release");
            var lines = run.Output.Split('\n').Select(l => l.TrimEnd()).ToList();
            Assert.Contains("waited: True", lines);
            Assert.Contains("value: 36", lines);
            Assert.Contains(lines, l => l.StartsWith("health: Healthy (2 live workers on queue 'hosted:", StringComparison.Ordinal));
            Assert.Contains("workers after stop: 0", lines);
        }
        finally
        {
            Directory.Delete(app, recursive: true);
        }
    }

    [Fact]
    public async Task A_fresh_web_app_with_Rrq_Dashboard_serves_a_failed_task_its_spawned_worker_ran_read_only()
    {
        // An ASP.NET Core app: the worker it spawns comes from Rrq.Scripting's rrq-worker/ folder, with its own libraries.
        var app = await NewAppAsync("web", "MyDashboard", ("Rrq.Dashboard", packed.Version), ("Rrq.Hosting", packed.Version),
            ("Rrq.Scripting", packed.Version));
        try
        {
            await File.WriteAllTextAsync(Path.Combine(app, "functions.csx"), Functions);
            await File.WriteAllTextAsync(Path.Combine(app, "Program.cs"), """
                using Rrq;
                using Rrq.Dashboard;
                using Rrq.Hosting;

                var builder = WebApplication.CreateBuilder(args);
                builder.Logging.ClearProviders();
                builder.WebHost.UseUrls("http://127.0.0.1:0");
                builder.Configuration["Rrq:QueueId"] = "web:" + Guid.NewGuid().ToString("N")[..8];
                builder.Services.AddRrq();
                var app = builder.Build();
                app.MapRrqDashboard("/rrq");
                await app.StartAsync();
                var obj = app.Services.GetRequiredService<RrqController>();
                await obj.WorkerEnvirSetAsync(new RrqEnvir(Sources: ["functions.csx"]));
                obj.WorkerSpawn(1);
                var t = await obj.TaskCreateExprAsync("Fail(x)", new { x = 2.0 });
                Console.WriteLine($"waited: {await obj.TaskWaitAsync(t, TimeSpan.FromSeconds(60))}");
                using var http = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };
                Console.WriteLine($"overview lists it: {(await http.GetStringAsync("/rrq/")).Contains(t)}");
                var page = await http.GetStringAsync($"/rrq/task/{t}");
                Console.WriteLine($"task page marks its line: {page.Contains("<tr class=\"hit\"><td class=\"ln\">3</td>")}");
                using var retry = new HttpRequestMessage(HttpMethod.Post, $"/rrq/task/{t}/retry");
                retry.Headers.Add("X-Rrq-Action", "1");
                Console.WriteLine($"retry: {(int)(await http.SendAsync(retry)).StatusCode}");
                obj.WorkerStop();
                await app.StopAsync();
                """);
            var run = await Dotnet.RunOkAsync(app, TimeSpan.FromMinutes(4), "run", "-c", "Release");
            var lines = run.Output.Split('\n').Select(l => l.TrimEnd()).ToList();
            Assert.Contains("waited: False", lines);
            Assert.Contains("overview lists it: True", lines);
            Assert.Contains("task page marks its line: True", lines);
            Assert.Contains("retry: 403", lines);
        }
        finally
        {
            Directory.Delete(app, recursive: true);
        }
    }

    [Fact]
    public async Task A_file_based_app_run_with_dotnet_run_app_cs_spawns_a_worker_and_reads_its_value()
    {
        // .NET 10 file-based apps turn reflection-based JSON off: Rrq must not need it.
        var dir = Directory.CreateTempSubdirectory("rrq-fileapp-").FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(dir, "nuget.config"), packed.NugetConfig());
            await File.WriteAllTextAsync(Path.Combine(dir, "functions.csx"), Functions);
            await File.WriteAllTextAsync(Path.Combine(dir, "app.cs"), $$"""
                #:package Rrq.Scripting@{{packed.Version}}
                using Rrq;

                await using var obj = await RrqController.ConnectAsync("fileapp:" + Guid.NewGuid().ToString("N")[..8]);
                await obj.WorkerEnvirSetAsync(new RrqEnvir(Sources: ["functions.csx"]));
                obj.WorkerSpawn(1);
                var t = await obj.TaskCreateExprAsync("Square(x)", new { x = 4.0 });
                Console.WriteLine($"waited: {await obj.TaskWaitAsync(t, TimeSpan.FromSeconds(60))}");
                Console.WriteLine($"value: {await obj.TaskResultAsync(t)}");
                Console.WriteLine($"workers: {obj.WorkerInfo().Count}");
                obj.WorkerStop();
                """);
            var run = await Dotnet.RunOkAsync(dir, TimeSpan.FromMinutes(4), "run", "app.cs");
            Assert.Contains("waited: True", run.Output);
            Assert.Contains("value: 16", run.Output);
            Assert.Contains("workers: 1", run.Output);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task A_fresh_notebook_takes_the_packages_from_the_folder_and_runs_on_the_embedded_server()
    {
        Assert.False(await Rrq.Controller.RedisAddress.Resolve("localhost:6379").AnswersAsync(),
            "this test runs a notebook with no Redis configured and needs nothing listening on localhost:6379");
        var dir = Directory.CreateTempSubdirectory("rrq-notebook-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(dir, ".config"));
            File.Copy(Path.Combine(ExamplesTests.RepositoryRoot(), ".config", "dotnet-tools.json"), Path.Combine(dir, ".config", "dotnet-tools.json"));
            await Dotnet.RunOkAsync(dir, TimeSpan.FromMinutes(3), "tool", "restore");
            await File.WriteAllTextAsync(Path.Combine(dir, "functions.csx"), Functions);
            object Cell(string source) => new
            {
                cell_type = "code", execution_count = (int?)null, outputs = Array.Empty<object>(),
                metadata = new { polyglot_notebook = new { kernelName = "csharp" } }, source,
            };
            var notebook = new
            {
                cells = new[]
                {
                    Cell($"#i \"nuget: {packed.Folder}\"\n#r \"nuget: Rrq, {packed.Version}\"\n#r \"nuget: Rrq.Scripting, {packed.Version}\"\n" +
                         $"#r \"nuget: Rrq.Embedded, {packed.Version}\"\nusing Rrq;"),
                    Cell("var obj = RrqController.Connect(\"nb:\" + Guid.NewGuid().ToString(\"N\")[..8]);\n" +
                         "obj.WorkerEnvirSet(new RrqEnvir(Sources: [\"functions.csx\"]));\nvar workers = obj.WorkerSpawn(1);\nobj"),
                    Cell("var t = obj.TaskCreateExpr(\"Square(x)\", new { x = 5.0 });\nobj.TaskWait(t, TimeSpan.FromSeconds(60));\nobj.TaskResult(t)"),
                    Cell("var bad = obj.TaskCreateExpr(\"Fail(x)\", new { x = 1.0 });\nobj.TaskWait(bad, TimeSpan.FromSeconds(60));\n" +
                         "((RrqTaskError)obj.TaskResult(bad)!).Trace"),
                },
                metadata = new { kernelspec = new { display_name = ".NET (C#)", language = "C#", name = ".net-csharp" } },
                nbformat = 4, nbformat_minor = 5,
            };
            await File.WriteAllTextAsync(Path.Combine(dir, "start.ipynb"), JsonSerializer.Serialize(notebook));
            var executed = Path.Combine(dir, "out.ipynb");
            await Dotnet.RunOkAsync(dir, TimeSpan.FromMinutes(6), new Dictionary<string, string?> { ["RRQ_REDIS"] = null, ["REDIS_URL"] = null },
                "repl", "--run", "start.ipynb", "--exit-after-run", "--output-format", "ipynb", "--output-path", executed);

            using var nb = JsonDocument.Parse(await File.ReadAllTextAsync(executed));
            var outputs = nb.RootElement.GetProperty("cells").EnumerateArray().Select(c => c.GetProperty("outputs").EnumerateArray().ToArray()).ToArray();
            Assert.All(outputs, o => Assert.DoesNotContain(o, x => x.GetProperty("output_type").GetString() == "error"));
            static string Text(JsonElement[] cell) => string.Concat(cell.SelectMany(o =>
                (o.TryGetProperty("text", out var t) ? t.EnumerateArray() : Enumerable.Empty<JsonElement>())
                .Concat(o.TryGetProperty("data", out var d) && d.TryGetProperty("text/plain", out var p) ? p.EnumerateArray() : [])
                .Concat(o.TryGetProperty("data", out var d2) && d2.TryGetProperty("text/html", out var h) ? h.EnumerateArray() : [])
                .Select(s => s.GetString())));
            Assert.Contains("started an embedded Garnet server at 127.0.0.1:", Text(outputs[1]));
            Assert.Contains("25", Text(outputs[2]));
            Assert.Contains("functions.csx:line 3", Text(outputs[3]));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task The_tool_installs_from_the_folder_and_its_rrq_worker_runs_a_queue()
    {
        var tools = Path.Combine(packed.Work, "tools");
        await Dotnet.RunOkAsync(packed.Work, TimeSpan.FromMinutes(3), "tool", "install", "--tool-path", tools, "--add-source", packed.Folder,
            "rrq-worker", "--version", packed.Version);
        var exe = Path.Combine(tools, "rrq-worker");
        Assert.Empty(Directory.EnumerateFiles(tools, "Garnet*.dll", SearchOption.AllDirectories));

        var help = Process.Start(new ProcessStartInfo(exe, "--help") { RedirectStandardOutput = true })!;
        var text = await help.StandardOutput.ReadToEndAsync();
        await help.WaitForExitAsync();
        Assert.Equal(0, help.ExitCode);
        Assert.Contains("rrq-worker <queue-id> [command] [options]", text);

        await using var queue = await TestQueue.CreateAsync();
        var obj = queue.Controller;
        var env = Path.Combine(packed.Work, "tool-env");
        Directory.CreateDirectory(env);
        await File.WriteAllTextAsync(Path.Combine(env, "functions.csx"), Functions);
        await obj.WorkerEnvirSetAsync(new RrqEnvir(Sources: [Path.Combine(env, "functions.csx")]));
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(obj.QueueId);
        psi.Environment["RRQ_REDIS"] = RedisServer.Instance.Address;
        using var worker = Process.Start(psi)!;
        var log = worker.StandardOutput.ReadToEndAsync();
        var errors = worker.StandardError.ReadToEndAsync();
        try
        {
            var t = await obj.TaskCreateExprAsync("Square(x)", new { x = 7.0 });
            if (!await obj.TaskWaitAsync(t, TimeSpan.FromSeconds(60)))
            {
                Assert.Fail($"the tool's worker did not run the task:\n{await Drain(worker, log, errors)}");
            }
            Assert.Equal(49.0, await obj.TaskResultAsync(t));
            await obj.WorkerStopAsync();
            await worker.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(0, worker.ExitCode);
        }
        finally
        {
            if (!worker.HasExited)
            {
                worker.Kill();
            }
        }
    }

    /// <summary>A fresh console app (<c>dotnet new console</c>) in a temporary folder, outside the repository, taking
    /// Rrq's packages from the packed folder only, with these packages added as a user adds them.</summary>
    private Task<string> NewConsoleAppAsync(string name, params (string Id, string Version)[] packages) =>
        NewAppAsync("console", name, packages);

    private async Task<string> NewAppAsync(string template, string name, params (string Id, string Version)[] packages)
    {
        var app = Directory.CreateTempSubdirectory("rrq-app-").FullName;
        await Dotnet.RunOkAsync(app, TimeSpan.FromMinutes(2), "new", template, "--name", name, "--output", ".");
        await File.WriteAllTextAsync(Path.Combine(app, "nuget.config"), packed.NugetConfig());
        foreach (var (id, version) in packages)
        {
            await Dotnet.RunOkAsync(app, TimeSpan.FromMinutes(3), "add", "package", id, "--version", version);
        }
        return app;
    }

    private static async Task<string> Drain(Process p, Task<string> stdout, Task<string> stderr)
    {
        if (!p.HasExited)
        {
            p.Kill();
        }
        return await stdout + await stderr;
    }
}
