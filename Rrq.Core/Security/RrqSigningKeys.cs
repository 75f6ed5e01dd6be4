using System.Security.Cryptography;
using System.Text;

namespace Rrq;

/// <summary>
/// The keys a queue's controllers sign its tasks, shared locals, worker environments and messages with (HMAC-SHA256),
/// and its workers check them with before compiling or running anything. The first key signs; every key is accepted,
/// so a new key can be rolled out first to workers (second line), then to controllers (first line), and the old one
/// dropped once no task signed with it is left.
/// </summary>
/// <remarks>
/// Set <c>RRQ_SIGNING_KEY_FILE</c> to a file readable only by its owner, holding one key per line (blank lines and
/// lines starting with <c>#</c> are skipped; make a key with <c>openssl rand -base64 32</c>), or set
/// <see cref="RrqController.SigningKeys"/> in code. Without keys, workers run what they find in Redis, as rrq does:
/// see docs/security.md for what that means. <see cref="ToString"/> never shows a key.
/// </remarks>
public sealed class RrqSigningKeys
{
    /// <summary>The environment variable naming the key file.</summary>
    public const string EnvironmentVariable = "RRQ_SIGNING_KEY_FILE";

    /// <summary>The shortest key accepted, in characters.</summary>
    public const int MinimumLength = 16;

    private readonly string[] _lines;
    private readonly byte[][] _keys;
    private readonly Lock _fileGate = new();
    private string? _fileForWorkers;
    private readonly string[] _ids;

    private RrqSigningKeys(IReadOnlyList<string> keys, string? file, string source)
    {
        if (keys.Count == 0)
        {
            throw new RrqException($"{source} holds no signing key. Put one key per line (make one with `openssl rand -base64 32`).");
        }
        for (var i = 0; i < keys.Count; i++)
        {
            if (keys[i] is null || keys[i].Trim().Length < MinimumLength)
            {
                throw new RrqException($"Signing key {i + 1} of {source} is shorter than {MinimumLength} characters: too easy to guess. " +
                    "Make one with `openssl rand -base64 32`. Nothing was signed.");
            }
        }
        _lines = keys.Select(k => k.Trim()).ToArray();
        _keys = _lines.Select(k => Encoding.UTF8.GetBytes(k)).ToArray();
        _ids = _keys.Select(KeyId).ToArray();
        File = file;
    }

    /// <summary>The file the keys were read from; null for keys given in code.</summary>
    public string? File { get; }

    /// <summary>How many keys are accepted (the first signs).</summary>
    public int Count => _keys.Length;

    /// <summary>The id of the key that signs: the start of a hash of it, which says which key signed a payload and
    /// tells nothing of the key itself.</summary>
    public string SigningKeyId => _ids[0];

    /// <summary>Keys given in code, the first signing.</summary>
    /// <exception cref="RrqException">None given, or one shorter than <see cref="MinimumLength"/>.</exception>
    public static RrqSigningKeys FromKeys(params string[] keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        return new RrqSigningKeys(keys, null, "the keys given");
    }

    /// <summary>Reads a key file: one key per line, the first signing.</summary>
    /// <exception cref="RrqException">The file is missing, can be read or written by other users (on Unix), or
    /// holds no usable key.</exception>
    public static RrqSigningKeys FromFile(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var full = Path.GetFullPath(path);
        if (!System.IO.File.Exists(full))
        {
            throw new RrqException($"The signing key file '{full}' does not exist. Create it with one key per line " +
                $"(`openssl rand -base64 32 > {full} && chmod 600 {full}`), or unset {EnvironmentVariable}.");
        }
        if (!OperatingSystem.IsWindows())
        {
            const UnixFileMode others = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
                UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;
            var mode = System.IO.File.GetUnixFileMode(full);
            if ((mode & others) != 0)
            {
                throw new RrqException($"The signing key file '{full}' can be read or written by other users (mode " +
                    $"{Convert.ToString((int)mode, 8)}): anyone who can read it can sign tasks. Run `chmod 600 {full}`. Nothing was loaded.");
            }
        }
        string[] lines;
        try
        {
            lines = System.IO.File.ReadAllLines(full);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new RrqException($"Cannot read the signing key file '{full}': {e.Message}", e);
        }
        var keys = lines.Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToArray();
        return new RrqSigningKeys(keys, full, $"the signing key file '{full}'");
    }

    /// <summary>The keys named by <c>RRQ_SIGNING_KEY_FILE</c>; null when it is not set.</summary>
    /// <exception cref="RrqException">It is set, and the file is not usable (see <see cref="FromFile"/>).</exception>
    public static RrqSigningKeys? FromEnvironment() =>
        Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } path ? FromFile(path) : null;

    /// <summary>A file holding these keys, for worker processes to read (RRQ_SIGNING_KEY_FILE): the one they came from, or,
    /// for keys given in code, one written once, readable by this user only, in a folder of its own.</summary>
    internal string FileForWorkers()
    {
        if (File is not null)
        {
            return File;
        }
        lock (_fileGate)
        {
            if (_fileForWorkers is null)
            {
                var dir = Path.Combine(Path.GetTempPath(), "rrq-keys-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)));
                var path = Path.Combine(dir, "signing-keys");
                if (OperatingSystem.IsWindows())
                {
                    Directory.CreateDirectory(dir);
                }
                else
                {
                    Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                }
                var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
                if (!OperatingSystem.IsWindows())
                {
                    options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
                }
                using (var writer = new StreamWriter(path, new UTF8Encoding(false), options))
                {
                    foreach (var line in _lines)
                    {
                        writer.WriteLine(line);
                    }
                }
                _fileForWorkers = path;
            }
            return _fileForWorkers;
        }
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"{Count} signing key{(Count == 1 ? "" : "s")} (signing with {SigningKeyId}){(File is null ? "" : " from " + File)}";

    private const string Header = "rrq-sig1 ";

    /// <summary>The body wrapped with its signature: <c>rrq-sig1 &lt;key id&gt; &lt;mac&gt;\n</c> then the body. The MAC
    /// covers what the body is (<paramref name="kind"/>: task, shared, envir, message), the queue, and the body, so a
    /// body signed for one queue, or as one kind, is refused as another.</summary>
    internal byte[] Seal(string kind, string queueId, ReadOnlySpan<byte> body)
    {
        var mac = Mac(_keys[0], kind, queueId, body);
        var head = Encoding.ASCII.GetBytes($"{Header}{_ids[0]} {Convert.ToHexStringLower(mac)}\n");
        var sealedBytes = new byte[head.Length + body.Length];
        head.CopyTo(sealedBytes, 0);
        body.CopyTo(sealedBytes.AsSpan(head.Length));
        return sealedBytes;
    }

    /// <inheritdoc cref="Seal(string, string, ReadOnlySpan{byte})"/>
    internal string Seal(string kind, string queueId, string body) => Encoding.UTF8.GetString(Seal(kind, queueId, Encoding.UTF8.GetBytes(body)));

    /// <summary>The body of a sealed payload, its signature checked against these keys.</summary>
    /// <exception cref="RrqSignatureException">It is not signed, signed with a key not among these, or its signature does
    /// not match (changed since, or signed for another queue or as another kind).</exception>
    internal byte[] Open(string kind, string queueId, byte[] raw, string what)
    {
        if (!HasHeader(raw))
        {
            throw new RrqSignatureException($"{what} is not signed by queue '{queueId}''s key: it carries no signature, so it " +
                "was not written by a controller holding the key (or was written before signing was turned on). It was not run.");
        }
        var end = Array.IndexOf(raw, (byte)'\n');
        var parts = end < 0 ? [] : Encoding.ASCII.GetString(raw, Header.Length, end - Header.Length).Split(' ');
        if (parts.Length != 2 || parts[1].Length != 64)
        {
            throw new RrqSignatureException($"{what} is not signed by queue '{queueId}''s key: its signature line is malformed. It was not run.");
        }
        var index = Array.IndexOf(_ids, parts[0]);
        if (index < 0)
        {
            throw new RrqSignatureException($"{what} is not signed by queue '{queueId}''s key: it was signed with key {parts[0]}, " +
                $"which is not among this process's keys ({string.Join(", ", _ids)}). After a key rotation, give workers the new " +
                "key as well as the old one until no task signed with the old key is left. It was not run.");
        }
        var body = raw.AsSpan(end + 1);
        byte[] claimed;
        try
        {
            claimed = Convert.FromHexString(parts[1]);
        }
        catch (FormatException)
        {
            throw new RrqSignatureException($"{what} is not signed by queue '{queueId}''s key: its signature is not hexadecimal. It was not run.");
        }
        if (!CryptographicOperations.FixedTimeEquals(claimed, Mac(_keys[index], kind, queueId, body)))
        {
            throw new RrqSignatureException($"{what} is not signed by queue '{queueId}''s key: the signature does not match its " +
                $"content. It was changed after it was signed, or it was signed for another queue or as something else. It was not run.");
        }
        return body.ToArray();
    }

    /// <inheritdoc cref="Open(string, string, byte[], string)"/>
    internal string Open(string kind, string queueId, string raw, string what) =>
        Encoding.UTF8.GetString(Open(kind, queueId, Encoding.UTF8.GetBytes(raw), what));

    /// <summary>The body of a payload, signed or not, unchecked (for reading back what was submitted).</summary>
    internal static byte[] Strip(byte[] raw)
    {
        if (!HasHeader(raw))
        {
            return raw;
        }
        var end = Array.IndexOf(raw, (byte)'\n');
        return end < 0 ? raw : raw[(end + 1)..];
    }

    /// <inheritdoc cref="Strip(byte[])"/>
    internal static string Strip(string raw) =>
        raw.StartsWith(Header, StringComparison.Ordinal) && raw.IndexOf('\n') is var end and >= 0 ? raw[(end + 1)..] : raw;

    private static readonly byte[] HeaderBytes = Encoding.ASCII.GetBytes(Header);

    private static bool HasHeader(byte[] raw) => raw.AsSpan().StartsWith(HeaderBytes);

    private static string KeyId(byte[] key)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData([.. "rrq-key-id\n"u8, .. key], hash);
        return Convert.ToHexStringLower(hash[..8]);
    }

    private static byte[] Mac(byte[] key, string kind, string queueId, ReadOnlySpan<byte> body)
    {
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, key);
        hmac.AppendData(Encoding.UTF8.GetBytes($"rrq-sig1\n{kind}\n{queueId}\n"));
        hmac.AppendData(body);
        return hmac.GetHashAndReset();
    }
}
