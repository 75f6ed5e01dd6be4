using System.Text;

namespace Rrq.Workers;

/// <summary>
/// What passes between a worker and the child process of a separate-process task, in files written
/// with <see cref="BinaryWriter"/>: the compiled code, the task's locals going in and its outcome
/// coming out. Plain values (null, bool, int, long, double, string, and small arrays of these) travel
/// in a simple form that needs no serializer set up; every other value travels as the value codec's
/// bytes, exactly as stored in Redis. So a child that runs plain tasks never loads MemoryPack, whose
/// start-up (hundreds of formatters registered) would otherwise cost every child tens of milliseconds
/// of CPU. The worker encodes plain results for Redis itself.
/// </summary>
internal static class ChildWire
{
    private const byte Null = 0, Bool = 1, Int = 2, Long = 3, Double = 4, Str = 5, IntArray = 6, LongArray = 7,
        DoubleArray = 8, StrArray = 9, BoolArray = 10, Codec = 255;

    /// <summary>Arrays longer than this (and longer strings) travel as codec bytes: for a large value the
    /// serializer's start-up is nothing, and the child writes it to the offload directory itself.</summary>
    private const int PlainLimit = 8192;

    /// <summary>Whether a value travels in the simple form.</summary>
    public static bool IsPlain(object? value) => value switch
    {
        null or bool or int or long or double => true,
        string s => s.Length <= PlainLimit,
        int[] a => a.Length <= PlainLimit,
        long[] a => a.Length <= PlainLimit,
        double[] a => a.Length <= PlainLimit,
        bool[] a => a.Length <= PlainLimit,
        string?[] a => a.GetType() == typeof(string[]) && a.Length <= PlainLimit && a.All(x => x is null || x.Length <= PlainLimit),
        _ => false,
    };

    /// <summary>Writes a plain value (see <see cref="IsPlain"/>).</summary>
    public static void WritePlain(BinaryWriter w, object? value)
    {
        switch (value)
        {
            case null: w.Write(Null); break;
            case bool b: w.Write(Bool); w.Write(b); break;
            case int i: w.Write(Int); w.Write(i); break;
            case long l: w.Write(Long); w.Write(l); break;
            case double d: w.Write(Double); w.Write(d); break;
            case string s: w.Write(Str); w.Write(s); break;
            case int[] a: w.Write(IntArray); w.Write(a.Length); foreach (var x in a) { w.Write(x); } break;
            case long[] a: w.Write(LongArray); w.Write(a.Length); foreach (var x in a) { w.Write(x); } break;
            case double[] a: w.Write(DoubleArray); w.Write(a.Length); foreach (var x in a) { w.Write(x); } break;
            case bool[] a: w.Write(BoolArray); w.Write(a.Length); foreach (var x in a) { w.Write(x); } break;
            case string?[] a:
                w.Write(StrArray);
                w.Write(a.Length);
                foreach (var x in a)
                {
                    WriteNullable(w, x);
                }
                break;
            default: throw new ArgumentException($"A value of type {value.GetType()} is not plain.", nameof(value));
        }
    }

    /// <summary>Writes a value: plain, or the codec's bytes.</summary>
    public static void WriteValue(BinaryWriter w, object? value, Func<byte[]> codecBytes)
    {
        if (IsPlain(value))
        {
            WritePlain(w, value);
        }
        else
        {
            WriteCodec(w, codecBytes());
        }
    }

    public static void WriteCodec(BinaryWriter w, byte[] bytes)
    {
        w.Write(Codec);
        w.Write(bytes.Length);
        w.Write(bytes);
    }

    /// <summary>Reads a value: a plain one as itself; codec bytes through <paramref name="decode"/>.</summary>
    public static object? ReadValue(BinaryReader r, Func<byte[], object?> decode)
    {
        var kind = r.ReadByte();
        switch (kind)
        {
            case Null: return null;
            case Bool: return r.ReadBoolean();
            case Int: return r.ReadInt32();
            case Long: return r.ReadInt64();
            case Double: return r.ReadDouble();
            case Str: return r.ReadString();
            case IntArray: return Fill(new int[Count(r)], r.ReadInt32);
            case LongArray: return Fill(new long[Count(r)], r.ReadInt64);
            case DoubleArray: return Fill(new double[Count(r)], r.ReadDouble);
            case BoolArray: return Fill(new bool[Count(r)], r.ReadBoolean);
            case StrArray: return Fill(new string?[Count(r)], () => ReadNullable(r));
            case Codec: return decode(r.ReadBytes(Count(r)));
            default: throw new InvalidDataException($"Unknown value kind {kind} in a child process file.");
        }
    }

    private static int Count(BinaryReader r)
    {
        var n = r.ReadInt32();
        return n >= 0 && n <= r.BaseStream.Length ? n : throw new InvalidDataException($"A length of {n} in a child process file is wrong.");
    }

    private static T[] Fill<T>(T[] array, Func<T> read)
    {
        for (var i = 0; i < array.Length; i++)
        {
            array[i] = read();
        }
        return array;
    }

    public static void WriteNullable(BinaryWriter w, string? s)
    {
        w.Write(s is not null);
        if (s is not null)
        {
            w.Write(s);
        }
    }

    public static string? ReadNullable(BinaryReader r) => r.ReadBoolean() ? r.ReadString() : null;

    public static void WriteStrings(BinaryWriter w, IReadOnlyCollection<string> items)
    {
        w.Write(items.Count);
        foreach (var s in items)
        {
            w.Write(s);
        }
    }

    public static string[] ReadStrings(BinaryReader r) => Fill(new string[Count(r)], r.ReadString);

    public static void WriteBytes(BinaryWriter w, byte[]? bytes)
    {
        w.Write(bytes is null ? -1 : bytes.Length);
        if (bytes is not null)
        {
            w.Write(bytes);
        }
    }

    public static byte[]? ReadBytes(BinaryReader r)
    {
        var n = r.ReadInt32();
        return n < 0 ? null : r.ReadBytes(n <= r.BaseStream.Length ? n : throw new InvalidDataException($"A length of {n} in a child process file is wrong."));
    }

    /// <summary>Writes a file aside and renames it into place, so a reader never sees half of it.</summary>
    public static void WriteFile(string file, Action<BinaryWriter> write)
    {
        var tmp = file + "." + Environment.ProcessId + ".tmp";
        using (var stream = File.Create(tmp))
        using (var w = new BinaryWriter(stream, Encoding.UTF8))
        {
            write(w);
        }
        File.Move(tmp, file, overwrite: true);
    }

    /// <summary>Reads a file written by <see cref="WriteFile"/>; a damaged one gives an <see cref="RrqException"/> naming it.</summary>
    public static T ReadFile<T>(string file, Func<BinaryReader, T> read)
    {
        try
        {
            using var r = new BinaryReader(new MemoryStream(File.ReadAllBytes(file), writable: false), Encoding.UTF8);
            return read(r);
        }
        catch (Exception e) when (e is EndOfStreamException or InvalidDataException or ArgumentException or FormatException)
        {
            throw new RrqException($"The file '{file}' a worker shares with its child process cannot be read ({e.Message}); " +
                "it was damaged, or written by another version of Rrq.", e);
        }
    }
}
