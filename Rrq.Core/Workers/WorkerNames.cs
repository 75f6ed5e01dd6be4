using System.Security.Cryptography;

namespace Rrq.Workers;

/// <summary>Random, readable worker id bases such as "brave_otter" (rrq uses adjective_animal ids too).</summary>
internal static class WorkerNames
{
    private static readonly string[] Adjectives =
    [
        "able", "amber", "brave", "bright", "calm", "clever", "cosmic", "crisp", "daring", "eager", "fancy", "gentle",
        "golden", "happy", "humble", "jolly", "keen", "lively", "lucky", "mellow", "nimble", "noble", "patient",
        "polite", "proud", "quick", "quiet", "rapid", "silent", "smart", "steady", "sunny", "swift", "tidy", "vivid", "witty",
    ];

    private static readonly string[] Animals =
    [
        "badger", "beaver", "bison", "bobolink", "cattle", "condor", "coyote", "crane", "dingo", "dolphin", "falcon",
        "ferret", "gecko", "heron", "ibex", "jackal", "koala", "lemur", "lynx", "marmot", "narwhal", "ocelot", "otter",
        "panda", "puffin", "quokka", "raven", "salmon", "tapir", "toucan", "uromastyx", "vole", "walrus", "wombat", "yak", "zebra",
    ];

    public static string NewBase() =>
        $"{Adjectives[RandomNumberGenerator.GetInt32(Adjectives.Length)]}_{Animals[RandomNumberGenerator.GetInt32(Animals.Length)]}";
}
