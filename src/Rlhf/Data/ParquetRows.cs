// Streams the rows of a Parquet file (the Hugging Face Hub's dataset format) as JSON objects, one row group at a time.
// Parquet.Net reads each leaf column's values with its repetition and definition levels; the rows are re-assembled
// here by the record-assembly rule of the Dremel paper (Melnik et al., 2010), as parquet-format's docs describe it.
using System.Buffers;
using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Json;
using Parquet;
using Parquet.Schema;

namespace Rlhf.Data;

/// <summary>
/// Rows of a <c>.parquet</c> file as JSON objects with the file's columns: strings, integers, floats, booleans and nulls;
/// lists as arrays, structs as objects, maps as objects (keys as text); dates and timestamps as ISO 8601 strings.
/// Location: <c>train.parquet:row 17</c> (1-based over the whole file).
/// </summary>
internal static class ParquetRows
{
    private static readonly byte[] Magic = "PAR1"u8.ToArray();
    private static readonly object Unset = new();
    private static readonly UTF8Encoding StrictUtf8 = new(false, throwOnInvalidBytes: true);

    /// <summary>True when the file starts with the Parquet magic bytes <c>PAR1</c>.</summary>
    public static bool HasMagic(string path)
    {
        using var f = File.OpenRead(path);
        Span<byte> head = stackalloc byte[4];
        return f.ReadAtLeast(head, 4, throwOnEndOfStream: false) == 4 && head.SequenceEqual(Magic);
    }

    /// <summary>
    /// The rows of <paramref name="path"/>. A file that is not Parquet, truncated or corrupt, or has a column of a type
    /// that has no JSON form, throws <see cref="DataFormatException"/> naming the file (and column). A row holding a
    /// value JSON cannot carry (NaN, binary that is not UTF-8 text) or longer than <paramref name="maxRowLength"/>
    /// bytes of JSON is a bad row: thrown, or counted in <paramref name="report"/> and skipped with <paramref name="skipBadRows"/>.
    /// </summary>
    public static IEnumerable<DataRow> Read(string path, bool skipBadRows, DataReport? report, int maxRowLength)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        CheckFrame(path, file);
        using var stream = new ParquetInputStream(file);
        ParquetReader reader;
        Columns columns;
        try
        {
            reader = ParquetReader.CreateAsync(stream, leaveStreamOpen: true).GetAwaiter().GetResult();
            columns = Schema(path, reader.Schema);
        }
        catch (NotSupportedException e)
        {
            throw new DataFormatException(path, "unsupported Parquet column",
                $"a column layout rlhf cannot read ({Models.JsonText.Clip(e.Message, 200)}); drop or convert that column (e.g. with pyarrow) and try again", e);
        }
        catch (Exception e) when (e is not DataFormatException)
        {
            throw Corrupt(path, null, e);
        }
        try
        {
            int rowNumber = 0;
            for (int group = 0; group < reader.RowGroupCount; group++)
            {
                var rows = ReadGroup(path, reader, group, columns);
                foreach (var row in rows)
                {
                    rowNumber++;
                    var location = DataRow.TableRow(path, rowNumber, default).Location;
                    DataRow? result = null;
                    DataFormatException? error;
                    try
                    {
                        byte[] json = ToJson(row, columns.Fields);
                        error = json.Length > maxRowLength
                            ? new DataFormatException(location, "row too long",
                                $"the row is {json.Length:N0} bytes of JSON, above the limit of {maxRowLength:N0}; raise it with --max-line-length if the file is right")
                            : null;
                        if (error is null)
                        {
                            using var doc = JsonDocument.Parse(json);
                            result = DataRow.TableRow(path, rowNumber, doc.RootElement.Clone());
                        }
                    }
                    catch (BadValueException e)
                    {
                        error = new DataFormatException(location, e.Reason, e.Message);
                    }
                    if (error is not null)
                    {
                        if (!skipBadRows)
                            throw error;
                        report?.AddBadRow(error);
                        continue;
                    }
                    yield return result!;
                }
            }
        }
        finally
        {
            reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    /// <summary>
    /// Checks the leading and trailing <c>PAR1</c>, so that a wrong or truncated file gets a plain message, then the
    /// footer: its length (4 bytes little-endian before the trailing magic) must fit the file, and Parquet.Net's parse
    /// of it must stay inside it (<see cref="ParquetFooterCheck"/>; a corrupt footer would otherwise hang that parse).
    /// </summary>
    private static void CheckFrame(string path, FileStream stream)
    {
        Span<byte> head = stackalloc byte[4];
        if (stream.ReadAtLeast(head, 4, throwOnEndOfStream: false) != 4 || !head.SequenceEqual(Magic))
            throw new DataFormatException(path, "not Parquet",
                "not a Parquet file (it does not start with 'PAR1'); a .parquet data file must be Parquet — or give JSON Lines a .jsonl name");
        Span<byte> tail = stackalloc byte[4];
        if (stream.Length < 12 || stream.Seek(-4, SeekOrigin.End) < 0 || stream.ReadAtLeast(tail, 4, throwOnEndOfStream: false) != 4
            || !tail.SequenceEqual(Magic))
            throw new DataFormatException(path, "truncated Parquet",
                "the Parquet file is truncated (it does not end with 'PAR1'); re-download or re-create it");
        stream.Seek(-8, SeekOrigin.End);
        stream.ReadExactly(tail);
        long footerLength = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(tail);
        if (footerLength == 0 || footerLength > stream.Length - 12)
            throw Corrupt(path, null, new InvalidDataException($"the footer length {footerLength:N0} does not fit a {stream.Length:N0}-byte file"));
        var footer = new byte[footerLength];
        stream.Seek(-8 - footerLength, SeekOrigin.End);
        stream.ReadExactly(footer);
        try
        {
            ParquetFooterCheck.Check(footer);
        }
        catch (InvalidDataException e)
        {
            throw new DataFormatException(path, "corrupt Parquet",
                $"corrupt Parquet footer ({e.Message}); re-download or re-create the file", e);
        }
        stream.Position = 0;
    }

    private static DataFormatException Corrupt(string path, string? column, Exception e) =>
        new(path, "corrupt Parquet",
            $"corrupt Parquet data{(column is null ? "" : $" in column '{column}'")} ({Models.JsonText.Clip(e.Message, 200)}); re-download or re-create the file", e);

    // ---- The schema as a tree whose nodes know the definition level at which they hold a value.

    private abstract record Node(string Name);

    /// <summary>A value column; non-null when the definition level is at least <paramref name="Defined"/>.</summary>
    private sealed record Leaf(string Name, DataField Field, int Defined) : Node(Name);

    private sealed record Struct(string Name, int Defined, Node[] Fields) : Node(Name);

    /// <summary>Non-null from <paramref name="Defined"/>, has an element from <paramref name="HasElement"/>; repeats at <paramref name="Repetition"/>.</summary>
    private sealed record ListNode(string Name, int Defined, int HasElement, int Repetition, Node Item, bool IsMap) : Node(Name);

    /// <summary>The top-level fields, and for every leaf column the path of nodes from the top down to it.</summary>
    /// <summary>Keys[n] is the position of Path[n] among its parent's fields.</summary>
    private sealed record Columns(Node[] Fields, List<(Leaf Leaf, Node[] Path, int[] Keys)> Leaves, int MaxRepetition);

    private static Columns Schema(string path, ParquetSchema schema)
    {
        int maxRepetition = 0;
        Node Build(Field field, int defined, int repetition)
        {
            switch (field)
            {
                case DataField { IsArray: true } data: // a repeated primitive without a LIST annotation: a required list of required values
                    Check(data, defined + 1, repetition + 1);
                    maxRepetition = Math.Max(maxRepetition, repetition + 1);
                    return new ListNode(data.Name, defined, defined + 1, repetition + 1, new Leaf("element", data, defined + 1), false);
                case DataField data:
                    Check(data, defined + (data.IsNullable ? 1 : 0), repetition);
                    return new Leaf(data.Name, data, defined + (data.IsNullable ? 1 : 0));
                case StructField group:
                {
                    int structDefined = defined + (group.IsNullable ? 1 : 0);
                    return new Struct(group.Name, structDefined, group.Fields.Select(f => Build(f, structDefined, repetition)).ToArray());
                }
                case ListField list:
                {
                    int listDefined = defined + (list.IsNullable ? 1 : 0);
                    if (list.MaxRepetitionLevel == repetition && list.Item is DataField { IsArray: true })
                    {
                        // A two-level list whose repeated field is the value itself: that field is the repetition.
                        var inner = (ListNode)Build(list.Item, listDefined, repetition);
                        return inner with { Name = list.Name };
                    }
                    if (list.MaxRepetitionLevel != repetition + 1 || list.MaxDefinitionLevel != listDefined + 1)
                        throw Unsupported(path, list, "a list layout");
                    maxRepetition = Math.Max(maxRepetition, repetition + 1);
                    return new ListNode(list.Name, listDefined, listDefined + 1, repetition + 1, Build(list.Item, listDefined + 1, repetition + 1), false);
                }
                case MapField map:
                {
                    int mapDefined = defined + (map.IsNullable ? 1 : 0);
                    if (map.MaxRepetitionLevel != repetition + 1 || map.MaxDefinitionLevel != mapDefined + 1)
                        throw Unsupported(path, map, "a map layout");
                    maxRepetition = Math.Max(maxRepetition, repetition + 1);
                    var entry = new Struct("key_value", mapDefined + 1,
                        [Build(map.Key, mapDefined + 1, repetition + 1), Build(map.Value, mapDefined + 1, repetition + 1)]);
                    return new ListNode(map.Name, mapDefined, mapDefined + 1, repetition + 1, entry, true);
                }
                default:
                    throw Unsupported(path, field, field.SchemaType.ToString());
            }
        }

        void Check(DataField data, int defined, int repetition)
        {
            if (data.MaxDefinitionLevel != defined || data.MaxRepetitionLevel != repetition)
                throw Unsupported(path, data, "a nesting");
            if (!IsSupported(data.ClrType))
                throw Unsupported(path, data, $"the type {data.ClrType.Name}");
        }

        var top = schema.Fields.Select(f => Build(f, 0, 0)).ToArray();
        var leaves = new List<(Leaf, Node[], int[])>();
        void Walk(Node node, int key, List<Node> trail, List<int> keys)
        {
            trail.Add(node);
            keys.Add(key);
            switch (node)
            {
                case Leaf leaf: leaves.Add((leaf, trail.ToArray(), keys.ToArray())); break;
                case Struct s: for (int i = 0; i < s.Fields.Length; i++) Walk(s.Fields[i], i, trail, keys); break;
                case ListNode l: Walk(l.Item, 0, trail, keys); break;
            }
            trail.RemoveAt(trail.Count - 1);
            keys.RemoveAt(keys.Count - 1);
        }
        for (int i = 0; i < top.Length; i++)
            Walk(top[i], i, [], []);
        return new Columns(top, leaves, maxRepetition);
    }

    private static DataFormatException Unsupported(string path, Field field, string what) =>
        new(path, "unsupported Parquet column",
            $"column '{field.Path}' has {what} that rlhf cannot read as JSON; drop or convert that column (e.g. with pyarrow) and try again");

    private static bool IsSupported(Type t) =>
        t == typeof(bool) || t == typeof(sbyte) || t == typeof(byte) || t == typeof(short) || t == typeof(ushort) || t == typeof(int)
        || t == typeof(uint) || t == typeof(long) || t == typeof(ulong) || t == typeof(float) || t == typeof(double) || t == typeof(Half)
        || t == typeof(decimal) || t == typeof(BigInteger) || t == typeof(DateTime) || t == typeof(DateOnly) || t == typeof(TimeSpan)
        || t == typeof(TimeOnly) || t == typeof(Guid) || t == typeof(string) || t == typeof(ReadOnlyMemory<char>)
        || t == typeof(byte[]) || t == typeof(ReadOnlyMemory<byte>);

    // ---- Assembly: rows are trees of Record (an object's field values in schema order) and List<object?>.

    private sealed class Record(int fields)
    {
        public readonly object?[] Values = Enumerable.Repeat(Unset, fields).ToArray();
    }

    private static List<Record> ReadGroup(string path, ParquetReader reader, int group, Columns columns)
    {
        using var rowGroup = reader.OpenRowGroupReader(group);
        long count = rowGroup.RowCount;
        if (count < 0)
            throw Corrupt(path, null, new InvalidDataException($"row group {group + 1} has {count} rows"));
        var rows = new List<Record>((int)Math.Min(count, 1 << 20));
        var index = new int[columns.MaxRepetition + 1];
        foreach (var (leaf, nodes, keys) in columns.Leaves)
        {
            ColumnValues values;
            try
            {
                values = ReadColumn(rowGroup, leaf.Field);
            }
            catch (NotImplementedException e)
            {
                // Parquet.Net 6.1.0 reads no repetition levels from version-2 data pages (DataColumnReader.ReadDataPageV2Async).
                throw new DataFormatException(path, "unsupported Parquet column",
                    $"column '{leaf.Field.Path}' is stored in a way the Parquet reader (Parquet.Net) cannot read yet (nested values in version-2 data pages); write the file with version-1 data pages (pyarrow's and the Hub's default) and try again", e);
            }
            catch (Exception e) when (e is not DataFormatException)
            {
                throw Corrupt(path, leaf.Field.Path.ToString(), e);
            }
            using (values)
            {
                int row = -1, next = 0;
                for (int i = 0; i < values.Levels; i++)
                {
                    int repetition = values.Repetition?[i] ?? 0;
                    int definition = values.Definition?[i] ?? leaf.Field.MaxDefinitionLevel;
                    if (repetition == 0)
                    {
                        row++;
                        if (row == rows.Count)
                            rows.Add(new Record(columns.Fields.Length));
                    }
                    else if (row < 0)
                        throw Corrupt(path, leaf.Field.Path.ToString(), new InvalidDataException("the first value repeats a row"));
                    for (int k = 1; k < index.Length; k++)
                        index[k] = k > repetition ? 0 : k == repetition ? index[k] + 1 : index[k];
                    object? value = definition >= leaf.Defined ? values.Get(next++) : null;
                    if (!Place(rows[row], nodes, keys, definition, index, value))
                        throw Corrupt(path, leaf.Field.Path.ToString(), new InvalidDataException("repetition levels do not match the rows"));
                }
                if (row + 1 != count)
                    throw Corrupt(path, leaf.Field.Path.ToString(), new InvalidDataException($"{row + 1} rows in a row group of {count}"));
            }
        }
        return rows;
    }

    /// <summary>Puts one leaf value (or the null / empty list its definition level says) into its row.</summary>
    private static bool Place(Record row, Node[] nodes, int[] keys, int definition, int[] index, object? value)
    {
        object holder = row;
        int key = keys[0];
        for (int n = 0; n < nodes.Length; n++)
        {
            switch (nodes[n])
            {
                case Struct s:
                {
                    if (definition < s.Defined)
                        return SetIfUnset(holder, key, null);
                    var record = GetOrCreate(holder, key, () => new Record(s.Fields.Length));
                    if (record is not Record r) return false;
                    holder = r;
                    key = keys[n + 1];
                    break;
                }
                case ListNode l:
                {
                    if (definition < l.Defined)
                        return SetIfUnset(holder, key, null);
                    if (GetOrCreate(holder, key, () => new List<object?>()) is not List<object?> list) return false;
                    if (definition < l.HasElement)
                        return true;
                    int at = index[l.Repetition];
                    if (at == list.Count)
                        list.Add(Unset);
                    else if (at > list.Count)
                        return false;
                    holder = list;
                    key = at;
                    break;
                }
                case Leaf:
                    return Set(holder, key, value);
            }
        }
        return false;
    }

    private static ref object? Slot(object holder, int key) =>
        ref holder is Record r ? ref r.Values[key] : ref System.Runtime.InteropServices.CollectionsMarshal.AsSpan((List<object?>)holder)[key];

    private static bool SetIfUnset(object holder, int key, object? value)
    {
        ref object? slot = ref Slot(holder, key);
        if (ReferenceEquals(slot, Unset))
            slot = value;
        return true;
    }

    private static bool Set(object holder, int key, object? value)
    {
        ref object? slot = ref Slot(holder, key);
        if (!ReferenceEquals(slot, Unset))
            return false;
        slot = value;
        return true;
    }

    private static object? GetOrCreate(object holder, int key, Func<object> create)
    {
        ref object? slot = ref Slot(holder, key);
        if (ReferenceEquals(slot, Unset))
            slot = create();
        return slot;
    }

    // ---- One leaf column of one row group: packed non-null values plus levels.

    private abstract class ColumnValues : IDisposable
    {
        public int Levels;
        public int[]? Definition;
        public int[]? Repetition;
        public abstract object? Get(int i);
        public virtual void Dispose()
        {
            if (Definition is not null) ArrayPool<int>.Shared.Return(Definition);
            if (Repetition is not null) ArrayPool<int>.Shared.Return(Repetition);
        }
    }

    private sealed class ColumnValues<T> : ColumnValues where T : struct
    {
        public T[] Values = [];
        public override object? Get(int i) => Values[i];
        public override void Dispose()
        {
            ArrayPool<T>.Shared.Return(Values, clearArray: RuntimeHelpers_IsReference);
            base.Dispose();
        }

        private static readonly bool RuntimeHelpers_IsReference = System.Runtime.CompilerServices.RuntimeHelpers.IsReferenceOrContainsReferences<T>();
    }

    private static ColumnValues ReadColumn(ParquetRowGroupReader rowGroup, DataField field)
    {
        var t = field.ClrType;
        if (t == typeof(string) || t == typeof(ReadOnlyMemory<char>)) return Read<ReadOnlyMemory<char>>(rowGroup, field);
        if (t == typeof(byte[]) || t == typeof(ReadOnlyMemory<byte>)) return Read<ReadOnlyMemory<byte>>(rowGroup, field);
        if (t == typeof(bool)) return Read<bool>(rowGroup, field);
        if (t == typeof(sbyte)) return Read<sbyte>(rowGroup, field);
        if (t == typeof(byte)) return Read<byte>(rowGroup, field);
        if (t == typeof(short)) return Read<short>(rowGroup, field);
        if (t == typeof(ushort)) return Read<ushort>(rowGroup, field);
        if (t == typeof(int)) return Read<int>(rowGroup, field);
        if (t == typeof(uint)) return Read<uint>(rowGroup, field);
        if (t == typeof(long)) return Read<long>(rowGroup, field);
        if (t == typeof(ulong)) return Read<ulong>(rowGroup, field);
        if (t == typeof(float)) return Read<float>(rowGroup, field);
        if (t == typeof(double)) return Read<double>(rowGroup, field);
        if (t == typeof(Half)) return Read<Half>(rowGroup, field);
        if (t == typeof(decimal)) return Read<decimal>(rowGroup, field);
        if (t == typeof(BigInteger)) return Read<BigInteger>(rowGroup, field);
        if (t == typeof(DateTime)) return Read<DateTime>(rowGroup, field);
        if (t == typeof(DateOnly)) return Read<DateOnly>(rowGroup, field);
        if (t == typeof(TimeSpan)) return Read<TimeSpan>(rowGroup, field);
        if (t == typeof(TimeOnly)) return Read<TimeOnly>(rowGroup, field);
        if (t == typeof(Guid)) return Read<Guid>(rowGroup, field);
        throw new NotSupportedException($"type {t.Name}"); // Schema() rejects these first
    }

    private static ColumnValues<T> Read<T>(ParquetRowGroupReader rowGroup, DataField field) where T : struct
    {
        long levels = rowGroup.GetMetadata(field)?.MetaData?.NumValues
            ?? throw new InvalidDataException("the column chunk has no metadata");
        if (levels < 0 || levels > Array.MaxLength)
            throw new InvalidDataException($"{levels} values in one column chunk");
        int n = (int)levels;
        var column = new ColumnValues<T>
        {
            Levels = n,
            Values = ArrayPool<T>.Shared.Rent(Math.Max(n, 1)),
            Definition = field.MaxDefinitionLevel > 0 ? ArrayPool<int>.Shared.Rent(Math.Max(n, 1)) : null,
            Repetition = field.MaxRepetitionLevel > 0 ? ArrayPool<int>.Shared.Rent(Math.Max(n, 1)) : null,
        };
        try
        {
            rowGroup.ReadRawAsync<T>(field, column.Values.AsMemory(0, n),
                column.Definition is null ? (Memory<int>?)null : column.Definition.AsMemory(0, n),
                column.Repetition is null ? (Memory<int>?)null : column.Repetition.AsMemory(0, n)).AsTask().GetAwaiter().GetResult();
        }
        catch
        {
            column.Dispose();
            throw;
        }
        return column;
    }

    // ---- JSON

    private sealed class BadValueException(string reason, string message) : Exception(message)
    {
        public string Reason { get; } = reason;
    }

    private static byte[] ToJson(Record row, Node[] fields)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            WriteRecord(writer, row, fields, "");
        return buffer.WrittenSpan.ToArray();
    }

    private static void WriteRecord(Utf8JsonWriter writer, Record record, Node[] fields, string path)
    {
        writer.WriteStartObject();
        for (int i = 0; i < fields.Length; i++)
        {
            writer.WritePropertyName(fields[i].Name);
            Write(writer, record.Values[i], fields[i], path + fields[i].Name);
        }
        writer.WriteEndObject();
    }

    private static void Write(Utf8JsonWriter writer, object? value, Node node, string path)
    {
        if (value is null || ReferenceEquals(value, Unset))
        {
            writer.WriteNullValue();
            return;
        }
        switch (node)
        {
            case Struct s:
                WriteRecord(writer, (Record)value, s.Fields, path + ".");
                return;
            case ListNode { IsMap: true } map:
            {
                var entries = (List<object?>)value;
                var entry = (Struct)map.Item;
                writer.WriteStartObject();
                foreach (var e in entries)
                {
                    var pair = (Record)e!;
                    writer.WritePropertyName(KeyText(pair.Values[0], path));
                    Write(writer, pair.Values[1], entry.Fields[1], path + ".value");
                }
                writer.WriteEndObject();
                return;
            }
            case ListNode list:
                writer.WriteStartArray();
                foreach (var item in (List<object?>)value)
                    Write(writer, item, list.Item, path + "[]");
                writer.WriteEndArray();
                return;
            default:
                WriteValue(writer, value, path);
                return;
        }
    }

    private static string KeyText(object? key, string path)
    {
        if (key is null || ReferenceEquals(key, Unset))
            throw new BadValueException("null map key", $"a key of map '{path}' is null");
        var buffer = new ArrayBufferWriter<byte>(32);
        using (var writer = new Utf8JsonWriter(buffer))
            WriteValue(writer, key, path);
        using var doc = JsonDocument.Parse(buffer.WrittenMemory);
        return doc.RootElement.ValueKind == JsonValueKind.String ? doc.RootElement.GetString()! : doc.RootElement.GetRawText();
    }

    private static void WriteValue(Utf8JsonWriter writer, object value, string path)
    {
        switch (value)
        {
            case ReadOnlyMemory<char> text: writer.WriteStringValue(text.Span); break;
            case ReadOnlyMemory<byte> bytes:
                string decoded;
                try
                {
                    decoded = StrictUtf8.GetString(bytes.Span);
                }
                catch (DecoderFallbackException)
                {
                    throw new BadValueException("binary value", $"column '{path}' holds binary data that is not UTF-8 text");
                }
                writer.WriteStringValue(decoded);
                break;
            case bool b: writer.WriteBooleanValue(b); break;
            case sbyte v: writer.WriteNumberValue(v); break;
            case byte v: writer.WriteNumberValue(v); break;
            case short v: writer.WriteNumberValue(v); break;
            case ushort v: writer.WriteNumberValue(v); break;
            case int v: writer.WriteNumberValue(v); break;
            case uint v: writer.WriteNumberValue(v); break;
            case long v: writer.WriteNumberValue(v); break;
            case ulong v: writer.WriteNumberValue(v); break;
            case float v: writer.WriteNumberValue(Finite(v, path)); break;
            case double v: writer.WriteNumberValue(Finite(v, path)); break;
            case Half v: writer.WriteNumberValue(Finite((float)v, path)); break;
            case decimal v: writer.WriteNumberValue(v); break;
            case BigInteger v: writer.WriteRawValue(v.ToString(CultureInfo.InvariantCulture), skipInputValidation: true); break;
            case DateTime v: writer.WriteStringValue(v.ToString("o", CultureInfo.InvariantCulture)); break;
            case DateOnly v: writer.WriteStringValue(v.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)); break;
            case TimeSpan v: writer.WriteStringValue(v.ToString("c", CultureInfo.InvariantCulture)); break;
            case TimeOnly v: writer.WriteStringValue(v.ToString("HH:mm:ss.FFFFFFF", CultureInfo.InvariantCulture)); break;
            case Guid v: writer.WriteStringValue(v.ToString("D")); break;
            default: throw new BadValueException("unsupported value", $"column '{path}' holds a {value.GetType().Name}, which has no JSON form");
        }
    }

    private static T Finite<T>(T v, string path) where T : IFloatingPointIeee754<T> =>
        T.IsFinite(v) ? v : throw new BadValueException("non-finite number", $"column '{path}' holds {v}, which JSON cannot hold");
}
