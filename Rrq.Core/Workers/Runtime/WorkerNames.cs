using System.Security.Cryptography;
using StackExchange.Redis;

namespace Rrq.Workers;

/// <summary>Random, readable worker id bases such as "brave_otter" (rrq uses adjective_animal ids too).</summary>
internal static class WorkerNames
{
    private static readonly string[] Adjectives =
    [
        "able", "agile", "amber", "ample", "arctic", "azure", "bold", "brave", "breezy", "bright", "brisk", "calm",
        "candid", "cheerful", "civil", "clever", "cosmic", "crimson", "crisp", "curious", "daring", "dapper", "eager",
        "early", "earnest", "fancy", "fearless", "festive", "fluent", "frank", "gentle", "gifted", "glad", "golden",
        "graceful", "happy", "hardy", "honest", "humble", "jolly", "joyful", "keen", "kind", "lively", "loyal", "lucky",
        "mellow", "merry", "mighty", "modest", "nimble", "noble", "patient", "plucky", "polite", "proud", "quick",
        "quiet", "radiant", "rapid", "ready", "serene", "silent", "sincere", "smart", "snappy", "steady", "sturdy",
        "sunny", "swift", "tidy", "tranquil", "trusty", "upbeat", "valiant", "vivid", "warm", "wise", "witty", "zesty",
    ];

    private static readonly string[] Animals =
    [
        "alpaca", "antelope", "badger", "beaver", "bison", "bobolink", "buffalo", "camel", "caribou", "cattle", "cheetah",
        "condor", "cougar", "coyote", "crane", "dingo", "dolphin", "donkey", "eagle", "egret", "elk", "falcon", "ferret",
        "finch", "gazelle", "gecko", "gibbon", "gopher", "hare", "hedgehog", "heron", "hornet", "ibex", "iguana", "jackal",
        "jaguar", "kestrel", "koala", "lemur", "leopard", "lizard", "llama", "lynx", "magpie", "mallard", "marmot", "marten",
        "mink", "moose", "narwhal", "newt", "ocelot", "orca", "osprey", "otter", "owl", "panda", "pelican", "penguin",
        "pheasant", "puffin", "quail", "quokka", "rabbit", "raven", "salmon", "seal", "shrew", "sparrow", "stork", "tapir",
        "toucan", "turtle", "uromastyx", "viper", "vole", "walrus", "weasel", "wombat", "wren", "yak", "zebra",
    ];

    public static string NewBase() =>
        $"{Adjectives[RandomNumberGenerator.GetInt32(Adjectives.Length)]}_{Animals[RandomNumberGenerator.GetInt32(Animals.Length)]}";

    /// <summary>
    /// A base none of whose ids (<c>base_1</c> .. <c>base_n</c>, or the base itself when <paramref name="n"/>
    /// is 0) the queue has ever seen: reusing the id of a worker that has exited would make the new one
    /// look EXITED until it registers, and mix its log with the old one's.
    /// </summary>
    public static async Task<string> UnusedBaseAsync(RrqController controller, int n, Func<string>? next = null)
    {
        next ??= NewBase;
        for (var attempt = 0; ; attempt++)
        {
            var candidate = next();
            string[] ids = n == 0 ? [candidate] : [.. Enumerable.Range(1, n).Select(i => $"{candidate}_{i}")];
            if (!await controller.Queue.WorkerNamesTakenAsync(ids).ConfigureAwait(false))
            {
                return candidate;
            }
            if (attempt >= 50)
            {
                // Thousands of workers on one queue: a random suffix makes the base unique enough.
                return $"{candidate}_{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3))}";
            }
        }
    }
}
