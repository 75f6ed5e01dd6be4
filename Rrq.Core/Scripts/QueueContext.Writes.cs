using System.Globalization;
using StackExchange.Redis;

namespace Rrq.Scripts;

/// <summary>The plain writes the controller makes, by name, through the retry layer: each is safe to repeat (a state
/// change that must check what is there first is a script instead).</summary>
internal sealed partial class QueueContext
{
    /// <summary>Stores the queue's retention periods (null: keep those tasks), replacing what was there, in one step.</summary>
    public Task RetentionSetAsync(TimeSpan? complete, TimeSpan? failed, CancellationToken cancellationToken) => RunAsync(async db =>
    {
        static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("R", CultureInfo.InvariantCulture);
        var tx = db.CreateTransaction();
        _ = tx.KeyDeleteAsync(Keys.Retention);
        var fields = new List<HashEntry>();
        if (complete is { } c)
        {
            fields.Add(new("complete", Seconds(c)));
        }
        if (failed is { } f)
        {
            fields.Add(new("failed", Seconds(f)));
        }
        if (fields.Count > 0)
        {
            _ = tx.HashSetAsync(Keys.Retention, [.. fields]);
        }
        return await tx.ExecuteAsync().ConfigureAwait(false);
    }, cancellationToken).WaitAsync(cancellationToken);

    /// <summary>Deletes every key of the queue but the mark that it was destroyed (queue_destroy.lua sets that mark first),
    /// in batches of 1000; returns how many went. SCAN is per server, so it goes to each master directly (a cluster's keys
    /// of one slot live on one, but which one may change as a slot moves); the deletions go through the retry layer.</summary>
    public async Task<long> DeleteQueueKeysAsync(CancellationToken cancellationToken)
    {
        long deleted = 0;
        var pattern = "{" + GlobEscape(Keys.QueueId) + "}:*";
        foreach (var server in Db.Multiplexer.GetServers().Where(s => !s.IsReplica))
        {
            var batch = new List<RedisKey>(1000);
            await foreach (var key in server.KeysAsync(Db.Database, pattern, pageSize: 1000).WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                if (key == Keys.Destroyed)
                {
                    continue;   // the mark stays, for a day
                }
                batch.Add(key);
                if (batch.Count == 1000)
                {
                    deleted += await RunAsync(db => db.KeyDeleteAsync([.. batch]), cancellationToken).ConfigureAwait(false);
                    batch.Clear();
                }
            }
            if (batch.Count > 0)
            {
                deleted += await RunAsync(db => db.KeyDeleteAsync([.. batch]), cancellationToken).ConfigureAwait(false);
            }
        }
        return deleted;
    }

    /// <summary>Says where this queue's large values are kept (<see cref="OffloadPathAsync"/>).</summary>
    public Task OffloadPathSetAsync(string path) => RunAsync(db => db.StringSetAsync(Keys.OffloadPath, path));

    /// <summary>A queue id as a literal in a SCAN pattern.</summary>
    private static string GlobEscape(string s) =>
        string.Concat(s.Select(c => c is '*' or '?' or '[' or ']' or '\\' ? "\\" + c : c.ToString()));
}
