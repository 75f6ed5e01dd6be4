using Rrq.Connection;
using StackExchange.Redis;

namespace Rrq.Tests.Connection;

/// <summary>Which server replies the retry layer waits out and which it passes on as answers.</summary>
public class RedisFaultsTests
{
    [Theory]
    [InlineData("TRYAGAIN Multiple keys request during rehashing of slot", true)]
    [InlineData("ERR CLUSTERDOWN The cluster is down", true)]
    [InlineData("Key has MOVED to Endpoint 127.0.0.1:43199 and hashslot 3865 but CommandFlags.NoRedirect was specified - redirect not followed for HMGET {q}:task:status.", true)]
    [InlineData("MOVED 3865 127.0.0.1:43199", true)]
    [InlineData("ASK 3865 127.0.0.1:43199", true)]
    [InlineData("WRONGTYPE Operation against a key holding the wrong kind of value", false)]
    [InlineData("NOPERM this user has no permissions to run the 'evalsha' command", false)]
    public void A_slot_moving_is_waited_out_and_a_wrong_request_is_not(string reply, bool transient)
    {
#pragma warning disable CS0618 // the reply as the client builds it: only the message matters here
        var e = new RedisServerException(reply);
#pragma warning restore CS0618
        Assert.Equal(transient, RedisFaults.IsTransient(e));
    }
}
