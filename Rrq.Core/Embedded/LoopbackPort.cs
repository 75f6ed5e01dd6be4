using System.Net;
using System.Net.Sockets;

namespace Rrq.Embedded;

/// <summary>Finds a loopback TCP port that is free right now.</summary>
internal static class LoopbackPort
{
    public static int Free()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }
}
