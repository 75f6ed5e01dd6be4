using Garnet;
using Microsoft.Extensions.Logging.Abstractions;
using Rrq.Embedded;

namespace Rrq.Scripting;

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
