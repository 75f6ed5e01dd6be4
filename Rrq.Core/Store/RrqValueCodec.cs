using System.Buffers.Binary;
using System.Collections;
using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using MemoryPack;

namespace Rrq.Store;

/// <summary>
/// Turns task values and locals into bytes and back. Layout: one kind byte, then
/// <list type="bullet">
/// <item><c>0</c> null;</item>
/// <item><c>1</c> exact: type name, then MemoryPack bytes (BCL types, arrays, lists, dictionaries,
/// tuples, <c>[MemoryPackable]</c> types);</item>
/// <item><c>2</c> structural: type name, then JSON; read back as that type when this process knows
/// it and JSON can build it (records of referenced assemblies), else as an <see cref="RrqValueSnapshot"/>;</item>
/// <item><c>3</c>, <c>4</c>, <c>5</c> containers of <c>object</c>: <c>object?[]</c>, <c>List&lt;object?&gt;</c>,
/// <c>Dictionary&lt;string, object?&gt;</c>, each element encoded by this same codec.</item>
/// </list>
/// A value that fits none of these raises <see cref="RrqValueException"/> naming its type.
/// </summary>
internal static class RrqValueCodec
{
    private const byte KindNull = 0, KindPack = 1, KindJson = 2, KindArray = 3, KindList = 4, KindDict = 5;

    private static readonly ConcurrentDictionary<Type, bool> Packable = new();

    private static readonly JsonSerializerOptions Json = new()
    {
        IncludeFields = true,
        ReferenceHandler = ReferenceHandler.IgnoreCycles,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        MaxDepth = 64,
    };

    public static byte[] Serialize(object? value)
    {
        var buffer = new ArrayBufferWriterStream();
        Write(buffer, value, depth: 0);
        return buffer.ToArray();
    }

    /// <summary>Reads a stored value. Bytes that are not one (damaged, cut short, a length past the end)
    /// give an <see cref="RrqValueException"/>, never another exception or an allocation of their size.</summary>
    public static object? Deserialize(ReadOnlySpan<byte> bytes)
    {
        var pos = 0;
        try
        {
            return Read(bytes, ref pos, depth: 0);
        }
        catch (Exception e) when (e is ArgumentException or IndexOutOfRangeException or MemoryPackSerializationException
            or OverflowException or DecoderFallbackException)
        {
            throw new RrqValueException($"The stored value is damaged: its {bytes.Length} bytes do not decode ({e.GetType().Name} at byte {pos}).", e);
        }
    }

    private static void Write(ArrayBufferWriterStream w, object? value, int depth)
    {
        if (depth > 64)
        {
            throw new RrqValueException("A value is nested more than 64 levels deep (a cycle through object containers?).");
        }
        switch (value)
        {
            case null:
                w.WriteByte(KindNull);
                return;
            case object?[] array when value.GetType() == typeof(object[]):
                w.WriteByte(KindArray);
                WriteItems(w, array, depth);
                return;
            case List<object?> list:
                w.WriteByte(KindList);
                WriteItems(w, list, depth);
                return;
            case Dictionary<string, object?> dict:
                w.WriteByte(KindDict);
                w.WriteInt(dict.Count);
                foreach (var (k, v) in dict)
                {
                    w.WriteString(k);
                    Write(w, v, depth + 1);
                }
                return;
        }

        var type = value.GetType();
        if (!TypeNames.IsProcessLocal(type) && TryPack(type, value, out var packed))
        {
            w.WriteByte(KindPack);
            w.WriteString(TypeNames.Of(type));
            w.Write(packed);
            return;
        }

        // Lazy sequences (LINQ iterators, yield methods) are private types: store what they yield.
        if (value is IEnumerable && !type.IsPublic && ElementType(type) is { } element && !TypeNames.IsProcessLocal(element))
        {
            var materialized = Materialize((IEnumerable)value, element);
            Write(w, materialized, depth + 1);
            return;
        }

        string json;
        try
        {
            json = JsonSerializer.Serialize(value, type, Json);
        }
        catch (Exception e) when (e is NotSupportedException or InvalidOperationException or JsonException or ArgumentException)
        {
            throw new RrqValueException(
                $"Cannot store a value of type '{type.FullName}': it has no exact serializer and its structure " +
                $"cannot be captured ({e.Message}). Return plain data (numbers, strings, arrays, records) instead.", e);
        }
        w.WriteByte(KindJson);
        w.WriteString(TypeNames.IsProcessLocal(type) ? type.FullName ?? type.Name : TypeNames.Of(type));
        w.Write(Encoding.UTF8.GetBytes(json));
    }

    private static void WriteItems(ArrayBufferWriterStream w, IReadOnlyList<object?> items, int depth)
    {
        w.WriteInt(items.Count);
        foreach (var item in items)
        {
            Write(w, item, depth + 1);
        }
    }

    private static bool TryPack(Type type, object value, out byte[] bytes)
    {
        bytes = [];
        if (Packable.TryGetValue(type, out var ok) && !ok)
        {
            return false;
        }
        try
        {
            bytes = MemoryPackSerializer.Serialize(type, value);
            Packable[type] = true;
            return true;
        }
        catch (Exception e) when (e is MemoryPackSerializationException or NotSupportedException or InvalidOperationException or TypeInitializationException)
        {
            Packable[type] = false;
            return false;
        }
    }

    private static Type? ElementType(Type type) => type.GetInterfaces()
        .FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>))
        ?.GetGenericArguments()[0];

    private static Array Materialize(IEnumerable source, Type element)
    {
        var items = new ArrayList();
        foreach (var item in source)
        {
            items.Add(item);
        }
        return items.ToArray(element);
    }

    private static object? Read(ReadOnlySpan<byte> bytes, ref int pos, int depth)
    {
        if (depth > 64)
        {
            throw new RrqValueException("The stored value is damaged: it is nested more than 64 levels deep.");
        }
        var kind = bytes[pos++];
        switch (kind)
        {
            case KindNull:
                return null;
            case KindArray:
                {
                    var n = ReadCount(bytes, ref pos);
                    var items = new object?[n];
                    for (var i = 0; i < n; i++) { items[i] = Read(bytes, ref pos, depth + 1); }
                    return items;
                }
            case KindList:
                {
                    var n = ReadCount(bytes, ref pos);
                    var items = new List<object?>(n);
                    for (var i = 0; i < n; i++) { items.Add(Read(bytes, ref pos, depth + 1)); }
                    return items;
                }
            case KindDict:
                {
                    var n = ReadCount(bytes, ref pos);
                    var items = new Dictionary<string, object?>(n);
                    for (var i = 0; i < n; i++)
                    {
                        var k = ReadString(bytes, ref pos);
                        items[k] = Read(bytes, ref pos, depth + 1);
                    }
                    return items;
                }
            case KindPack:
                {
                    var name = ReadString(bytes, ref pos);
                    var payload = ReadBlock(bytes, ref pos);
                    var type = TypeNames.Resolve(name) ?? throw new RrqValueException(
                        $"Cannot read a value of type '{name}': that type is not loaded in this process. " +
                        "Reference the assembly that defines it.");
                    return MemoryPackSerializer.Deserialize(type, payload);
                }
            case KindJson:
                {
                    var name = ReadString(bytes, ref pos);
                    var json = Encoding.UTF8.GetString(ReadBlock(bytes, ref pos));
                    var type = TypeNames.Resolve(name);
                    if (type is not null && !TypeNames.IsProcessLocal(type))
                    {
                        try
                        {
                            return JsonSerializer.Deserialize(json, type, Json);
                        }
                        catch (Exception e) when (e is JsonException or NotSupportedException or InvalidOperationException)
                        {
                            // Fall through: the structure is still worth returning.
                        }
                    }
                    return new RrqValueSnapshot(name, json);
                }
            default:
                throw new RrqValueException($"Stored value has unknown kind {kind}: was it written by a newer Rrq?");
        }
    }

    private static int ReadInt(ReadOnlySpan<byte> bytes, ref int pos)
    {
        var v = BinaryPrimitives.ReadInt32LittleEndian(bytes[pos..]);
        pos += 4;
        return v;
    }

    /// <summary>A count of items, each at least one byte: one larger than what is left is damage.</summary>
    private static int ReadCount(ReadOnlySpan<byte> bytes, ref int pos)
    {
        var n = ReadInt(bytes, ref pos);
        return n >= 0 && n <= bytes.Length - pos ? n
            : throw new RrqValueException($"The stored value is damaged: it claims {n} items with {bytes.Length - pos} bytes left.");
    }

    private static ReadOnlySpan<byte> ReadBlock(ReadOnlySpan<byte> bytes, ref int pos)
    {
        var n = ReadInt(bytes, ref pos);
        if (n < 0 || n > bytes.Length - pos)
        {
            throw new RrqValueException($"The stored value is damaged: a block of {n} bytes with {bytes.Length - pos} left.");
        }
        var block = bytes.Slice(pos, n);
        pos += n;
        return block;
    }

    private static string ReadString(ReadOnlySpan<byte> bytes, ref int pos) => Encoding.UTF8.GetString(ReadBlock(bytes, ref pos));

    /// <summary>A growable byte buffer with length-prefixed writes.</summary>
    private sealed class ArrayBufferWriterStream
    {
        private byte[] _buf = new byte[64];
        private int _len;

        public void WriteByte(byte b)
        {
            Ensure(1);
            _buf[_len++] = b;
        }

        public void WriteInt(int v)
        {
            Ensure(4);
            BinaryPrimitives.WriteInt32LittleEndian(_buf.AsSpan(_len), v);
            _len += 4;
        }

        public void WriteString(string s) => Write(Encoding.UTF8.GetBytes(s));

        public void Write(ReadOnlySpan<byte> block)
        {
            WriteInt(block.Length);
            Ensure(block.Length);
            block.CopyTo(_buf.AsSpan(_len));
            _len += block.Length;
        }

        public byte[] ToArray() => _buf.AsSpan(0, _len).ToArray();

        private void Ensure(int n)
        {
            if (_len + n > _buf.Length)
            {
                Array.Resize(ref _buf, Math.Max(_buf.Length * 2, _len + n));
            }
        }
    }
}
