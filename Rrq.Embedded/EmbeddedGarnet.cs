using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Loader;
using Garnet;
using Microsoft.Extensions.Logging.Abstractions;

namespace Rrq.Embedded;

/// <summary>
/// Microsoft Garnet, started inside this process on a free loopback port, with Lua on and run as a
/// transaction (without <c>--lua-transaction-mode</c> Garnet's scripts are not atomic). Other
/// processes (spawned workers, redis-cli) reach it over TCP. It lives as long as this process.
/// </summary>
internal sealed class EmbeddedGarnet : IEmbeddedServer
{
    private static readonly Lock Gate = new();
    private static GarnetServer? _server;
    private static string? _address;

    /// <summary>Starts a Garnet server on a loopback port, or says clearly why it could not.</summary>
    internal static GarnetServer StartOn(int port)
    {
        string[] args = ["--bind", "127.0.0.1", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--lua", "--lua-transaction-mode", "--logger-level", "None"];
        // Garnet prints a banner on standard output as it starts; a REPL user should see only our one line.
        var stdout = Console.Out;
        FindNativeLua();
        GarnetServer? server = null;
        try
        {
            Console.SetOut(TextWriter.Null);
            server = new GarnetServer(args, NullLoggerFactory.Instance);
            server.Start();
            return server;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            server?.Dispose();
            throw new RrqConnectionException($"127.0.0.1:{port}",
                $"Could not start the embedded Garnet server on 127.0.0.1:{port}: {e.Message} " +
                "Start a Redis server and set RRQ_REDIS instead (or pass a connection string to Connect).", e);
        }
        finally
        {
            Console.SetOut(stdout);
        }
    }

    private static readonly HashSet<AssemblyLoadContext> Hooked = [];

    /// <summary>
    /// Garnet runs Lua through the native <c>liblua54</c>, imported by KeraLua and by Garnet's server assembly. An app
    /// finds it through its deps.json; a host that loads Rrq.Embedded by path or from the NuGet cache (a notebook
    /// kernel, a script host) has no deps.json entry for it, and the runtime looks only beside the importing
    /// assembly, so Garnet started but every script failed. Such hosts may also load each assembly into a load
    /// context of its own. So every context that holds KeraLua or a Garnet assembly, now or later, is told where
    /// builds and packages keep the library: <c>runtimes/RID/native/</c> beside KeraLua.dll (a build's output)
    /// and two folders up (a NuGet package).
    /// </summary>
    private static void FindNativeLua()
    {
        lock (Hooked)
        {
            if (Hooked.Count > 0)
            {
                return;
            }
            var kera = typeof(KeraLua.Lua).Assembly;
            AppDomain.CurrentDomain.AssemblyLoad += (_, e) => Hook(e.LoadedAssembly, kera);
            foreach (var a in AppDomain.CurrentDomain.GetAssemblies())
            {
                Hook(a, kera);
            }
            Hook(typeof(GarnetServer).Assembly, kera);
        }
    }

    private static void Hook(Assembly assembly, Assembly kera)
    {
        var name = assembly.GetName().Name ?? "";
        if (name != "KeraLua" && !name.StartsWith("Garnet", StringComparison.Ordinal))
        {
            return;
        }
        var context = AssemblyLoadContext.GetLoadContext(assembly) ?? AssemblyLoadContext.Default;
        lock (Hooked)
        {
            if (!Hooked.Add(context))
            {
                return;
            }
        }
        context.ResolvingUnmanagedDll += (_, library) =>
            library.Contains("lua", StringComparison.OrdinalIgnoreCase) && NativeLuaPath(kera, library) is { } path ? NativeLibrary.Load(path) : IntPtr.Zero;
    }

    internal static string? NativeLuaPath(Assembly kera, string name)
    {
        var dir = Path.GetDirectoryName(kera.Location);
        if (string.IsNullOrEmpty(dir))
        {
            return null;
        }
        var os = OperatingSystem.IsWindows() ? "win" : OperatingSystem.IsMacOS() ? "osx" : "linux";
        var file = OperatingSystem.IsWindows() ? name + ".dll" : OperatingSystem.IsMacOS() ? "lib" + name + ".dylib" : "lib" + name + ".so";
        var rid = $"{os}-{RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant()}";
        string[] candidates =
        [
            Path.Combine(dir, "runtimes", rid, "native", file),
            Path.Combine(dir, "..", "..", "runtimes", rid, "native", file),
        ];
        return candidates.FirstOrDefault(File.Exists);
    }

    public (string Address, bool Started) Start()
    {
        lock (Gate)
        {
            if (_address is not null)
            {
                return (_address, false);
            }
            var port = LoopbackPort.Free();
            _server = StartOn(port);
            _address = $"127.0.0.1:{port}";
            AppDomain.CurrentDomain.ProcessExit += (_, _) => _server?.Dispose();
            return (_address, true);
        }
    }
}
