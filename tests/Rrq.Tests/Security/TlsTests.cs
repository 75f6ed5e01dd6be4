using System.Diagnostics;
using Rrq.Tests.Support;

namespace Rrq.Tests.Security;

/// <summary>Redis over TLS, with a certificate from a private CA made here with openssl, and a password: a script
/// connects through RRQ_REDIS (a rediss:// URL) with the CA from SSL_CERT_FILE, spawns a worker that connects the same
/// way, and runs tasks; without the CA, it fails at once saying the certificate is not trusted.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class TlsTests : IDisposable
{
    private const string Password = "tls-pass-0123456789";
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("rrq-tls-");
    private readonly PrivateRedis _redis;
    private readonly int _tlsPort = Rrq.Embedded.LoopbackPort.Free();

    public TlsTests()
    {
        Openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=rrq test CA");
        Openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost");
        File.WriteAllText(Path.Combine(_dir.FullName, "ext.cnf"), "subjectAltName=DNS:localhost\n");
        Openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.crt",
            "-days", "2", "-extfile", "ext.cnf");
        _redis = new PrivateRedis("--tls-port", _tlsPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--tls-cert-file", Path.Combine(_dir.FullName, "server.crt"), "--tls-key-file", Path.Combine(_dir.FullName, "server.key"),
            "--tls-auth-clients", "no");
        _redis.Command("CONFIG", "SET", "requirepass", Password);
        File.WriteAllText(Path.Combine(_dir.FullName, "run.csx"), """
            var obj = await RrqController.ConnectAsync("rrq-tls:" + Guid.NewGuid().ToString("N"));
            Console.WriteLine("connected to " + obj.RedisConfiguration);
            var w = await obj.WorkerSpawnAsync(1, timeout: TimeSpan.FromSeconds(60));
            var t = await obj.TaskCreateExprAsync("6 * 7");
            var s = await obj.TaskCreateExprAsync("\"in a child\"", separateProcess: true);
            Console.WriteLine(await obj.TaskWaitAsync([t, s], TimeSpan.FromSeconds(60)) + " " + obj.TaskResult(t) + " " + obj.TaskResult(s));
            obj.WorkerStop(timeout: TimeSpan.FromSeconds(30));
            """);
    }

    private void Openssl(params string[] args)
    {
        var psi = new ProcessStartInfo("openssl") { WorkingDirectory = _dir.FullName, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"openssl {string.Join(' ', args)}: {err.Result}");
    }

    private async Task<(int Code, string Out, string Err)> RunScriptAsync(string? caFile)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, WorkingDirectory = _dir.FullName };
        psi.ArgumentList.Add(RrqWorkerCli.Dll);
        psi.ArgumentList.Add("run");
        psi.ArgumentList.Add("run.csx");
        psi.Environment["RRQ_REDIS"] = $"rediss://default:{Password}@localhost:{_tlsPort}";
        if (caFile is null)
        {
            psi.Environment.Remove("SSL_CERT_FILE");
        }
        else
        {
            psi.Environment["SSL_CERT_FILE"] = caFile;
        }
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        var output = await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        return (p.ExitCode, output, await err);
    }

    [Fact]
    public async Task A_script_and_the_worker_it_spawns_run_tasks_over_TLS_with_a_password_and_the_CA_from_SSL_CERT_FILE()
    {
        var (code, output, err) = await RunScriptAsync(Path.Combine(_dir.FullName, "ca.crt"));
        Assert.True(code == 0, err);
        Assert.Contains($"connected to localhost:{_tlsPort}", output);
        Assert.Contains("password=*****", output);
        Assert.DoesNotContain(Password, output + err);
        Assert.Contains("True 42 in a child", output);
    }

    [Fact]
    public async Task An_untrusted_certificate_fails_at_once_saying_so()
    {
        var sw = Stopwatch.StartNew();
        var (code, _, err) = await RunScriptAsync(caFile: null);
        Assert.NotEqual(0, code);
        Assert.Contains($"Redis at localhost:{_tlsPort} (from RRQ_REDIS) presented a TLS certificate this process does not trust", err);
        Assert.True(err.Contains("UntrustedRoot") || err.Contains("PartialChain"), err);
        Assert.Contains("SSL_CERT_FILE", err);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(20), $"took {sw.Elapsed}");
    }

    public void Dispose()
    {
        _redis.Dispose();
        _dir.Delete(recursive: true);
    }
}
