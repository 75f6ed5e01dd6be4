namespace Rrq.Embedded;

/// <summary>
/// Starts a Redis-compatible server inside this process when no Redis was configured and nothing
/// answers on localhost:6379. Rrq.Core does not carry a server: the implementation (Microsoft
/// Garnet) lives in the Rrq.Embedded package, found by name, so an app (or a worker) that does not
/// reference it never carries or loads it.
/// </summary>
internal interface IEmbeddedServer
{
    /// <summary>The server's address (host:port), starting it on first use (Started true); one per process.</summary>
    (string Address, bool Started) Start();

    static IEmbeddedServer? Find()
    {
        var type = Type.GetType("Rrq.Embedded.EmbeddedGarnet, Rrq.Embedded", throwOnError: false);
        return type is null ? null : Activator.CreateInstance(type) as IEmbeddedServer;
    }
}
