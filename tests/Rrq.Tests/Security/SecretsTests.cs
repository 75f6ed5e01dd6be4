using Rrq.Tests.Support;

namespace Rrq.Tests.Security;

/// <summary>Secrets stay out of sight: a worker's task code finds no Redis password in its environment, spawned workers
/// get it in a file only their user can read, logs are private, and nothing public prints it.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]   // file modes and /proc
public class SecretsTests
{
    private const string Password = "s3cret-Pa55word-for-rrq";

    private static async Task<(PrivateRedis, string)> PasswordRedisAsync()
    {
        var redis = new PrivateRedis();
        using (var admin = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(redis.Address + ",allowAdmin=true"))
        {
            await admin.GetServer(admin.GetEndPoints()[0]).ConfigSetAsync("requirepass", Password);
        }
        return (redis, $"{redis.Address},password={Password}");
    }

    [Fact]
    public async Task Task_code_in_spawned_workers_and_their_children_finds_no_credentials_and_logs_are_private()
    {
        var (redis, connection) = await PasswordRedisAsync();
        using var _ = redis;
        await using var obj = await RrqController.ConnectAsync("rrq-test:secrets:" + Guid.NewGuid().ToString("N"), connection);
        obj.SigningKeys = RrqSigningKeys.FromKeys("a-key-for-the-secrets-test-0123");
        Assert.DoesNotContain(Password, obj.RedisConfiguration);
        Assert.Contains("password=*****", obj.RedisConfiguration);

        var spawned = await obj.WorkerSpawnAsync(1, timeout: TimeSpan.FromSeconds(60));
        try
        {
            const string look = "string.Join(\"|\", Environment.GetEnvironmentVariable(\"RRQ_REDIS\") ?? \"-\", " +
                "Environment.GetEnvironmentVariable(\"RRQ_SIGNING_KEY_FILE\") ?? \"-\", " +
                "System.IO.File.ReadAllText(\"/proc/self/environ\").Contains(pw), " +
                "System.IO.File.ReadAllText(\"/proc/self/cmdline\").Contains(pw))";
            var inWorker = await obj.TaskCreateExprAsync(look, new { pw = Password });
            var inChild = await obj.TaskCreateExprAsync(look, new { pw = Password }, separateProcess: true);
            Assert.True(await obj.TaskWaitAsync([inWorker, inChild], TimeSpan.FromSeconds(60)));
            Assert.Equal("-|-|False|False", obj.TaskResult(inWorker));
            Assert.Equal("-|-|False|False", obj.TaskResult(inChild));

            var log = Assert.Single(spawned.LogFiles).Value;
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(log));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(log)!));
            var connectionFile = Path.Combine(Path.GetDirectoryName(log)!, ".connection");
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(connectionFile));
            Assert.DoesNotContain(Password, string.Join("\n", spawned.Logs(spawned.Id)));
        }
        finally
        {
            spawned.Kill();
        }
    }
}
