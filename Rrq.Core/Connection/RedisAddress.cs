using StackExchange.Redis;

namespace Rrq.Controller;

/// <summary>
/// Where Redis is: the connection string given, else <c>RRQ_REDIS</c>, else <c>REDIS_URL</c>
/// (<c>redis://</c> and <c>rediss://</c> URLs accepted), else <c>localhost:6379</c>.
/// </summary>
internal sealed record RedisAddress(string Configuration, string Source)
{
    /// <summary>The connection string with its password, if any, shown as <c>*****</c>: what may be printed.</summary>
    public string Redacted
    {
        get
        {
            try
            {
                var opts = ConfigurationOptions.Parse(Configuration, ignoreUnknown: true);
                return string.IsNullOrEmpty(opts.Password) ? Configuration : opts.ToString(includePassword: false) + ",password=*****";
            }
            catch (ArgumentException)
            {
                return "(a connection string that does not parse)";
            }
        }
    }

    /// <inheritdoc />
    public override string ToString() => $"{Redacted} (from {Source})";

    /// <summary>Where Redis is looked for when nothing is configured (tests point it elsewhere).</summary>
    internal static string DefaultAddress { get; set; } = "localhost:6379";

    public static RedisAddress Resolve(string? redis)
    {
        if (!string.IsNullOrWhiteSpace(redis))
        {
            return new(FromUrl(redis), "argument");
        }
        if (Environment.GetEnvironmentVariable("RRQ_REDIS") is { Length: > 0 } rrq)
        {
            return new(FromUrl(rrq), "RRQ_REDIS");
        }
        if (Environment.GetEnvironmentVariable("REDIS_URL") is { Length: > 0 } url)
        {
            return new(FromUrl(url), "REDIS_URL");
        }
        return new(DefaultAddress, "default");
    }

    /// <summary>True if something accepts a TCP connection at the (single) endpoint within a second.</summary>
    public async Task<bool> AnswersAsync()
    {
        var opts = ConfigurationOptions.Parse(Configuration);
        var (host, port) = opts.EndPoints.FirstOrDefault() switch
        {
            System.Net.DnsEndPoint d => (d.Host, d.Port),
            System.Net.IPEndPoint i => (i.Address.ToString(), i.Port),
            _ => ("", 0),
        };
        if (host.Length == 0)
        {
            return true;
        }
        using var client = new System.Net.Sockets.TcpClient();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        try
        {
            await client.ConnectAsync(host, port == 0 ? 6379 : port, cts.Token).ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>The host:port list, without passwords, for messages.</summary>
    public string Endpoints
    {
        get
        {
            try
            {
                var opts = ConfigurationOptions.Parse(Configuration);
                return string.Join(", ", opts.EndPoints.Select(e => e switch
                {
                    System.Net.DnsEndPoint d => $"{d.Host}:{(d.Port == 0 ? 6379 : d.Port)}",
                    _ => e.ToString() ?? "?",
                }));
            }
            catch (ArgumentException)
            {
                return "(unparsable connection string)";
            }
        }
    }

    public string Described => Source switch
    {
        "default" => $"{Endpoints} (the default: no connection string given, RRQ_REDIS and REDIS_URL unset)",
        "embedded" => $"{Endpoints} (the embedded Garnet server)",
        "argument" => Endpoints,
        _ => $"{Endpoints} (from {Source})",
    };

    /// <summary>The connection options, with Rrq's defaults where the string sets none: 3 s to connect,
    /// one retry (an unreachable address fails within seconds); for a worker (<paramref name="worker"/>)
    /// 10 s and three retries, as many workers start at once on a loaded machine. A lost connection is
    /// tried again about once a second.</summary>
    public ConfigurationOptions Options(bool worker = false)
    {
        var opts = ConfigurationOptions.Parse(Configuration);
        if (!Configuration.Contains("connectTimeout", StringComparison.OrdinalIgnoreCase))
        {
            opts.ConnectTimeout = worker ? 10_000 : 3000;
        }
        if (!Configuration.Contains("connectRetry", StringComparison.OrdinalIgnoreCase))
        {
            opts.ConnectRetry = worker ? 3 : 1;
        }
        if (!Configuration.Contains("abortConnect", StringComparison.OrdinalIgnoreCase))
        {
            opts.AbortOnConnectFail = true;
        }
        // StackExchange.Redis's own default waits ConnectTimeout/2 and more between reconnect attempts
        // (5 s and up for a worker), so after a short outage workers came back seconds apart, and a peer
        // that was back early could declare a slow one lost. Try about once a second instead: Redis that is
        // back is seen within a second or two by every process.
        opts.ReconnectRetryPolicy = new ExponentialRetry(250, 1000);
        opts.ClientName ??= "rrq";
        return opts;
    }

    /// <summary>Turns <c>redis://user:password@host:port/db</c> (and <c>redis+sentinel://user:password@host1:port1,host2:port2/service/db</c>,
    /// Sentinels on port 26379 unless given) into StackExchange.Redis's form; anything else is taken as a StackExchange.Redis
    /// connection string already.</summary>
    public static string FromUrl(string value)
    {
        if (value.StartsWith("redis+sentinel://", StringComparison.OrdinalIgnoreCase)
            || value.StartsWith("rediss+sentinel://", StringComparison.OrdinalIgnoreCase))
        {
            return FromSentinelUrl(value);
        }
        if (!value.StartsWith("redis://", StringComparison.OrdinalIgnoreCase)
            && !value.StartsWith("rediss://", StringComparison.OrdinalIgnoreCase))
        {
            return value;
        }
        var uri = new Uri(value);
        var parts = new List<string> { $"{uri.Host}:{(uri.Port > 0 ? uri.Port : 6379)}" };
        if (!string.IsNullOrEmpty(uri.UserInfo))
        {
            var info = uri.UserInfo.Split(':', 2);
            if (info.Length == 2)
            {
                if (info[0].Length > 0)
                {
                    parts.Add("user=" + Uri.UnescapeDataString(info[0]));
                }
                parts.Add("password=" + Uri.UnescapeDataString(info[1]));
            }
            else
            {
                parts.Add("password=" + Uri.UnescapeDataString(info[0]));
            }
        }
        var db = uri.AbsolutePath.Trim('/');
        if (db.Length > 0)
        {
            parts.Add("defaultDatabase=" + db);
        }
        if (uri.Scheme.Equals("rediss", StringComparison.OrdinalIgnoreCase))
        {
            parts.Add("ssl=true");
        }
        return string.Join(',', parts);
    }

    private static string FromSentinelUrl(string value)
    {
        var ssl = value.StartsWith("rediss", StringComparison.OrdinalIgnoreCase);
        var rest = value[(value.IndexOf("://", StringComparison.Ordinal) + 3)..];
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        var (authority, path) = slash < 0 ? (rest, "") : (rest[..slash], rest[(slash + 1)..]);
        var parts = new List<string>();
        var at = authority.LastIndexOf('@');
        var userInfo = at < 0 ? "" : authority[..at];
        var hosts = (at < 0 ? authority : authority[(at + 1)..]).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (hosts.Length == 0 || segments.Length == 0)
        {
            throw new ArgumentException($"'{value}' is not a Sentinel URL Rrq reads: redis+sentinel://[user:password@]host1:26379,host2:26379/serviceName[/db].");
        }
        parts.AddRange(hosts.Select(h => h.Contains(':', StringComparison.Ordinal) ? h : h + ":26379"));
        parts.Add("serviceName=" + Uri.UnescapeDataString(segments[0]));
        if (userInfo.Length > 0)
        {
            var info = userInfo.Split(':', 2);
            if (info.Length == 2 && info[0].Length > 0)
            {
                parts.Add("user=" + Uri.UnescapeDataString(info[0]));
            }
            parts.Add("password=" + Uri.UnescapeDataString(info[^1]));
        }
        if (segments.Length > 1)
        {
            parts.Add("defaultDatabase=" + segments[1]);
        }
        if (ssl)
        {
            parts.Add("ssl=true");
        }
        return string.Join(',', parts);
    }
}
