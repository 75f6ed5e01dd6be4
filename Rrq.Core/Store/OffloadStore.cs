using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Rrq.Store;

/// <summary>
/// The value codec with large values kept out of Redis. A value whose encoding is larger than the
/// threshold is written to <c>{directory}/{queue folder}/{sha256}</c> and replaced, where Redis
/// would hold it, by a reference: the kind byte <see cref="KindReference"/>, the hash (64 hex
/// characters) and the length. Decoding follows a reference back to the file. A store without a
/// directory never offloads, and fails clearly when it meets a reference.
/// </summary>
internal sealed class OffloadStore
{
    public const byte KindReference = 6;
    private const int ReferenceLength = 1 + 64 + 8;

    private OffloadStore(string queueId, RrqOffload? offload, string? directory)
    {
        QueueId = queueId;
        Offload = offload;
        Directory = directory;
    }

    public string QueueId { get; }

    public RrqOffload? Offload { get; }

    /// <summary>This queue's folder in the offload directory, or null without one.</summary>
    public string? Directory { get; }

    /// <summary>Without a directory: the one other processes of the queue said they use, if any.</summary>
    public string? PathElsewhere { get; set; }

    /// <summary>A store for a queue; with a directory, it checks at once that files can be written there.</summary>
    /// <exception cref="RrqException">The directory cannot be created or written (the message names it).</exception>
    public static OffloadStore Create(string queueId, RrqOffload? offload)
    {
        if (offload is null)
        {
            return new OffloadStore(queueId, null, null);
        }
        ArgumentException.ThrowIfNullOrWhiteSpace(offload.Path, nameof(offload));
        ArgumentOutOfRangeException.ThrowIfNegative(offload.ThresholdBytes, nameof(offload));
        var dir = System.IO.Path.Combine(System.IO.Path.GetFullPath(offload.Path), Folder(queueId));
        try
        {
            System.IO.Directory.CreateDirectory(dir);
            var probe = System.IO.Path.Combine(dir, ".probe-" + Guid.NewGuid().ToString("N"));
            File.WriteAllBytes(probe, [1]);
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new RrqException($"The offload directory '{offload.Path}' cannot be used: {e.Message} " +
                "Point RrqOffload (or RRQ_OFFLOAD) at a directory this process can create and write.", e);
        }
        return new OffloadStore(queueId, offload, dir);
    }

    /// <summary>Encodes a value; a large one is written to the directory and a reference returned.</summary>
    public byte[] Serialize(object? value)
    {
        var bytes = RrqValueCodec.Serialize(value);
        if (Offload is null || bytes.Length <= Offload.ThresholdBytes)
        {
            return bytes;
        }
        var hash = Convert.ToHexStringLower(SHA256.HashData(bytes));
        var path = System.IO.Path.Combine(Directory!, hash);
        if (!File.Exists(path))
        {
            // Written aside and renamed: a reader never sees half a file, and two writers of the same
            // value end with the same file.
            var tmp = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
            File.WriteAllBytes(tmp, bytes);
            File.Move(tmp, path, overwrite: true);
        }
        var reference = new byte[ReferenceLength];
        reference[0] = KindReference;
        Encoding.ASCII.GetBytes(hash, reference.AsSpan(1, 64));
        BinaryPrimitives.WriteInt64LittleEndian(reference.AsSpan(65), bytes.Length);
        return reference;
    }

    /// <summary>Decodes a value, reading it from the directory when it was offloaded.</summary>
    /// <param name="bytes">The value as stored.</param>
    /// <param name="owner">What the value belongs to, for error messages ("the result of task 3f9a...").</param>
    public object? Deserialize(ReadOnlySpan<byte> bytes, string owner)
    {
        if (HashOf(bytes) is not { } hash)
        {
            return RrqValueCodec.Deserialize(bytes);
        }
        var length = BinaryPrimitives.ReadInt64LittleEndian(bytes[65..]);
        if (Directory is null)
        {
            var where = PathElsewhere is null ? "the offload directory" : $"the offload directory '{PathElsewhere}' (as the queue's other processes name it)";
            throw new RrqException($"{Capitalise(owner)} ({length:N0} bytes) is stored in {where}, as {Folder(QueueId)}/{hash}, " +
                "and this process was not given that directory. Connect with offload: new RrqOffload(\"/the/shared/path\") " +
                "or set RRQ_OFFLOAD to where the workers write it.");
        }
        var path = System.IO.Path.Combine(Directory, hash);
        if (!File.Exists(path))
        {
            throw new RrqException($"{Capitalise(owner)} ({length:N0} bytes) should be in the offload directory at '{path}', " +
                "but that file does not exist: is this the same directory the workers use (a shared filesystem mounted here)?");
        }
        var content = File.ReadAllBytes(path);
        // The file is named by its content's hash, and the reference to it is what a task's (signed) payload holds: a file
        // changed in place is refused, so the signature covers offloaded locals too.
        if (!Convert.ToHexStringLower(SHA256.HashData(content)).Equals(hash, StringComparison.Ordinal))
        {
            throw new RrqValueException($"{Capitalise(owner)} in the offload directory at '{path}' does not match its content " +
                "hash: the file was changed after it was written (or damaged). It was not used.");
        }
        return RrqValueCodec.Deserialize(content);
    }

    /// <summary>The content hash a stored value refers to, or null when the value is stored inline.</summary>
    public static string? HashOf(ReadOnlySpan<byte> bytes) =>
        bytes.Length == ReferenceLength && bytes[0] == KindReference ? Encoding.ASCII.GetString(bytes.Slice(1, 64)) : null;

    /// <summary>Deletes the files of values no task uses any more.</summary>
    public void Delete(IEnumerable<string> hashes)
    {
        if (Directory is null)
        {
            return;
        }
        foreach (var hash in hashes)
        {
            if (hash.Length == 64 && hash.All(char.IsAsciiHexDigitLower))
            {
                File.Delete(System.IO.Path.Combine(Directory, hash));
            }
        }
    }

    /// <summary>Deletes the queue's whole folder.</summary>
    public void DeleteAll()
    {
        if (Directory is not null && System.IO.Directory.Exists(Directory))
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
    }

    /// <summary>A folder name for a queue: readable, and distinct for distinct ids.</summary>
    private static string Folder(string queueId) =>
        string.Concat(queueId.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '_'))
        + "-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(queueId)))[..8];

    private static string Capitalise(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..];
}
