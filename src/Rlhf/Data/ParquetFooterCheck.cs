// Checks a Parquet footer (Thrift compact protocol, parquet-format's FileMetaData) before Parquet.Net parses it.
// Parquet.Net 6.1.0 reads the footer from a MemoryStream and turns its end (ReadByte() = -1) into the byte 0xFF, whose
// continuation bit makes a varint read never finish: one flipped byte in a footer (e.g. its last stop byte) hangs
// ParquetReader.CreateAsync forever. This walk makes the very reads that parser makes (the fields it knows by their
// declared type, the others skipped as its SkipField does), and stops at the first one that would leave the footer.
namespace Rlhf.Data;

internal static partial class ParquetFooterCheck
{
    /// <summary>Deeper nesting than any footer has; Parquet.Net's skipping recursion would overflow the stack.</summary>
    private const int MaxDepth = 64;

    private enum Kind : byte { Bool, I8, I16, I32, I64, Double, Binary, OneByte, Struct, List }

    private sealed record FieldType(Kind Kind, string? Struct = null, FieldType? Element = null);

    private static readonly Dictionary<string, Dictionary<short, FieldType>> Structs = FieldTable.ToDictionary(
        s => s.Struct,
        s => s.Fields.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToDictionary(
            f => short.Parse(f[..f.IndexOf(':')], System.Globalization.CultureInfo.InvariantCulture), f => ParseType(f[(f.IndexOf(':') + 1)..])));

    private static FieldType ParseType(string text) => text switch
    {
        "bool" => new(Kind.Bool),
        "i8" => new(Kind.I8),
        "i16" => new(Kind.I16),
        "i32" => new(Kind.I32),
        "i64" => new(Kind.I64),
        "double" => new(Kind.Double),
        "bin" => new(Kind.Binary),
        "byte" => new(Kind.OneByte),
        ['[', .. var element, ']'] => new(Kind.List, Element: ParseType(element)),
        _ => new(Kind.Struct, Struct: text),
    };

    /// <summary>
    /// Throws <see cref="InvalidDataException"/> (what is wrong, at which byte of the footer) when Parquet.Net's parse
    /// of <paramref name="footer"/> as FileMetaData would read past its end, nest too deep, or meet a field type it
    /// cannot skip; returns when that parse stays inside the footer (it may still find values it rejects).
    /// </summary>
    public static void Check(ReadOnlySpan<byte> footer)
    {
        var walk = new Walk(footer);
        walk.ReadStruct("FileMetaData", 0);
    }

    private ref struct Walk(ReadOnlySpan<byte> bytes)
    {
        private readonly ReadOnlySpan<byte> bytes = bytes;
        private int position;

        private readonly int Remaining => bytes.Length - position;

        private InvalidDataException Error(string what) => new($"{what} at byte {position} of the {bytes.Length}-byte footer");

        private byte Byte() => position < bytes.Length ? bytes[position++] : throw Error("the footer ends inside a value");

        private void Skip(long count)
        {
            if (count < 0 || count > Remaining) throw Error($"a value of {count} bytes runs past the end");
            position += (int)count;
        }

        /// <summary>A varint as Parquet.Net reads it: 7 bits a byte until one without the high bit (no length limit).</summary>
        private uint VarInt()
        {
            uint result = 0;
            int shift = 0;
            while (true)
            {
                byte b = Byte();
                result |= (uint)(b & 0x7f) << shift;
                if ((b & 0x80) == 0) return result;
                shift += 7;
            }
        }

        /// <summary>Thrift compact field header: 0 ends the struct; else type in the low nibble, id delta in the high one (0: a zigzag i16 follows).</summary>
        private bool NextField(ref short lastId, out short id, out byte type)
        {
            byte header = Byte();
            if (header == 0)
            {
                id = 0;
                type = 0;
                return false;
            }
            int delta = header >> 4;
            type = (byte)(header & 0x0f);
            id = delta == 0 ? (short)Zigzag(VarInt()) : (short)(lastId + delta);
            lastId = id;
            return true;
        }

        private static int Zigzag(uint n) => (int)(n >> 1) ^ -(int)(n & 1);

        /// <summary>A list header: size in the high nibble (15: a varint follows), element type in the low one.</summary>
        private int ListSize(out byte elementType)
        {
            byte header = Byte();
            elementType = (byte)(header & 0x0f);
            int size = header >> 4;
            if (size == 15) size = (int)VarInt();
            // Every element takes at least one byte in a real file; Parquet.Net allocates the list before reading it.
            if (size < 0 || size > Remaining) throw Error($"a list of {size} elements is longer than the rest of the footer");
            return size;
        }

        public void ReadStruct(string name, int depth)
        {
            if (depth > MaxDepth) throw Error("the footer nests too deep");
            var fields = Structs[name];
            short lastId = 0;
            while (NextField(ref lastId, out short id, out byte type))
            {
                if (fields.TryGetValue(id, out var declared))
                    Read(declared, depth + 1);
                else
                    SkipField(type, depth + 1);
            }
        }

        private void Read(FieldType type, int depth)
        {
            switch (type.Kind)
            {
                case Kind.Bool: break; // the value is the field header's type
                case Kind.I8: case Kind.OneByte: Byte(); break;
                case Kind.I16: case Kind.I32: case Kind.I64: VarInt(); break;
                case Kind.Double: Skip(8); break;
                case Kind.Binary: Binary(); break;
                case Kind.Struct: ReadStruct(type.Struct!, depth); break;
                case Kind.List:
                    int size = ListSize(out _); // the elements are read as declared, whatever the header says
                    for (int i = 0; i < size; i++) Read(type.Element!, depth + 1);
                    break;
            }
        }

        private void Binary()
        {
            int length = (int)VarInt();
            if (length != 0) Skip(length);
        }

        /// <summary>Parquet.Net 6.1.0's SkipField: a skipped struct's field headers only (not their values); no set, map or uuid.</summary>
        private void SkipField(byte type, int depth)
        {
            if (depth > MaxDepth) throw Error("the footer nests too deep");
            switch (type)
            {
                case 1: case 2: break; // booleans
                case 3: Skip(1); break;
                case 4: case 5: case 6: VarInt(); break;
                case 7: Skip(8); break;
                case 8: Binary(); break;
                case 12:
                    short lastId = 0;
                    while (NextField(ref lastId, out _, out _)) { }
                    break;
                case 9:
                    int size = ListSize(out byte element);
                    for (int i = 0; i < size; i++) SkipField(element, depth + 1);
                    break;
                default: throw Error($"a field of Thrift type {type}, which Parquet.Net cannot skip,");
            }
        }
    }
}
