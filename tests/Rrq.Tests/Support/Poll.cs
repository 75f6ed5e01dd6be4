namespace Rrq.Tests.Support;

/// <summary>Waits for a condition read from Redis. The check is async: a blocking check would hold a
/// thread-pool thread while the in-process worker holds another, and on two cores that starves the
/// pool long enough to miss short-lived states.</summary>
public static class Poll
{
    public static async Task Until(Func<Task<bool>> condition, int seconds = 20)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"condition not met within {seconds} s");
            }
            await Task.Delay(20);   // how often the condition is asked: the wait is for it, not for a time
        }
    }

    public static Task Until(Func<bool> condition, int seconds = 20) => Until(() => Task.FromResult(condition()), seconds);
}
