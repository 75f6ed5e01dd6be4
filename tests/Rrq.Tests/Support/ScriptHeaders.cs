using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using Rrq.Scripts;
using StackExchange.Redis;

namespace Rrq.Tests.Support;

/// <summary>
/// Checks every script call the tests make against the script's header: each key the header names at a fixed place
/// (<c>KEYS[3] task:queue</c>) is that key, there are at least as many ARGV as the header numbers, and a script that
/// includes finished.lua gets <see cref="Rrq.Keys.RrqKeys.FinishedBlock"/> last. A wrapper that passes its keys in
/// another order than its script reads them fails the test that made the call.
/// </summary>
public static partial class ScriptHeaders
{
    private static readonly ConcurrentDictionary<string, Header> Headers = new(StringComparer.Ordinal);

    /// <summary>What calls broke a header, by script (checked by a test, and thrown at the call).</summary>
    public static ConcurrentQueue<string> Broken { get; } = new();

    /// <summary>How many calls of each script were checked.</summary>
    public static ConcurrentDictionary<string, int> Checked { get; } = new(StringComparer.Ordinal);

    private static event Action<string, RedisKey[], RedisValue[]>? Calling;

    /// <summary>Shows <paramref name="listener"/> every script call, once checked, as it is sent, until disposed (a test
    /// counting one worker's claims listens here: Redis's own count also has the EVALSHA that a server without the script
    /// refused, and the EVAL that followed).</summary>
    public static IDisposable Listen(Action<string, RedisKey[], RedisValue[]> listener)
    {
        Calling += listener;
        return new Unlisten(listener);
    }

    private sealed class Unlisten(Action<string, RedisKey[], RedisValue[]> listener) : IDisposable
    {
        public void Dispose() => Calling -= listener;
    }

    [ModuleInitializer]
    internal static void Install() => QueueContext.ScriptCalling = Check;

    private sealed record Header(IReadOnlyDictionary<int, Regex> Keys, int Args, bool FinishedBlock);

    /// <summary>The header of a script: the keys named at a fixed place, how many ARGV it numbers, whether it reads
    /// the finished block last.</summary>
    internal static IReadOnlyDictionary<int, string> NamedKeys(string script) =>
        HeaderLines(script).SelectMany(l => KeyName().Matches(l))
            .Where(m => Vocabulary.Value.Any(Pattern(m.Groups[2].Value).IsMatch))   // "KEYS[2] the key to write" names none
            .GroupBy(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture))
            .ToDictionary(g => g.Key, g => g.First().Groups[2].Value);   // a key is named where the header lists it first

    /// <summary>Every key the schema has (RrqKeys' keys, and its keys of a worker, queue or period with a sample name).</summary>
    private static readonly Lazy<string[]> Vocabulary = new(() =>
    {
        var keys = new Rrq.Keys.RrqKeys("Q");
        var props = typeof(Rrq.Keys.RrqKeys).GetProperties().Where(p => p.PropertyType == typeof(RedisKey)).Select(p => (RedisKey)p.GetValue(keys)!);
        var made = typeof(Rrq.Keys.RrqKeys).GetMethods().Where(m => m.ReturnType == typeof(RedisKey) && m.GetParameters() is [var only]
                && (only.ParameterType == typeof(string) || only.ParameterType == typeof(long) || only.ParameterType == typeof(TimeSpan)))
            .Select(m => (RedisKey)m.Invoke(keys, [m.GetParameters()[0].ParameterType == typeof(string) ? "x"
                : m.GetParameters()[0].ParameterType == typeof(long) ? 5L : TimeSpan.FromSeconds(5)])!);
        return [.. props.Concat(made).Select(k => (string)k!)];
    });

    private static IEnumerable<string> HeaderLines(string script) =>
        RrqScripts.Text(script).Split('\n').TakeWhile(l => l.StartsWith("--", StringComparison.Ordinal) || l.Length == 0);

    private static Header Parse(string script)
    {
        var keys = NamedKeys(script).ToDictionary(p => p.Key, p => Pattern(p.Value));
        // The ARGV every call passes: those numbered outside parentheses (an aside names those some calls add).
        var args = HeaderLines(script).Select(l => Aside().Replace(Aside().Replace(l, ""), "")).SelectMany(l => ArgNumber().Matches(l))
            .Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).DefaultIfEmpty(0).Max();
        return new Header(keys, args, RrqScripts.Text(script).Contains("local N_KEYS = #KEYS - ", StringComparison.Ordinal));
    }

    /// <summary>A key name as headers write it ("worker:&lt;id&gt;:log", "delayed:&lt;the") as a pattern over a key of
    /// the queue ("{Q}:worker:w1:log"): each &lt;...&gt; part stands for one or more characters.</summary>
    private static Regex Pattern(string name)
    {
        var parts = Regex.Split(name, "<[^>]*>?");
        return new Regex(@"^\{[^}]*\}:" + string.Join(".+", parts.Select(Regex.Escape)) + "$", RegexOptions.CultureInvariant);
    }

    private static void Check(string script, RedisKey[] keys, RedisValue[] args)
    {
        var header = Headers.GetOrAdd(script, Parse);
        var problems = new List<string>();
        foreach (var (at, pattern) in header.Keys)
        {
            if (at > keys.Length)
            {
                problems.Add($"KEYS[{at}] missing ({keys.Length} keys passed)");
            }
            else if (!pattern.IsMatch((string)keys[at - 1]!))
            {
                problems.Add($"KEYS[{at}] is {(string?)keys[at - 1]}, the header says {pattern}");
            }
        }
        if (args.Length < header.Args)
        {
            problems.Add($"{args.Length} ARGV passed, the header numbers {header.Args}");
        }
        if (header.FinishedBlock && keys.Length > 0 && QueueOf((string)keys[0]!) is { } queue)
        {
            var block = new Rrq.Keys.RrqKeys(queue).FinishedBlock;
            if (keys.Length < block.Length || !keys.AsSpan(keys.Length - block.Length).SequenceEqual(block))
            {
                problems.Add("the last keys are not RrqKeys.FinishedBlock, which include/finished.lua reads");
            }
        }
        Checked.AddOrUpdate(script, 1, (_, n) => n + 1);
        if (problems.Count > 0)
        {
            var text = $"{script}: {string.Join("; ", problems)}";
            Broken.Enqueue(text);
            throw new InvalidOperationException("a script call does not match its header: " + text);
        }
        Calling?.Invoke(script, keys, args);
    }

    private static string? QueueOf(string key) => key.StartsWith('{') && key.IndexOf('}', StringComparison.Ordinal) is > 0 and var end
        ? key[1..end] : null;

    [GeneratedRegex(@"KEYS\[(\d+)\]\s+([^\s,;)]+)")]
    private static partial Regex KeyName();

    [GeneratedRegex(@"ARGV\[(\d+)\]")]
    private static partial Regex ArgNumber();

    [GeneratedRegex(@"\([^()]*\)")]
    private static partial Regex Aside();
}
