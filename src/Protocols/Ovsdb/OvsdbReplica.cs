using System.Text.Json;
using System.Text.Json.Nodes;

namespace Fabric.Protocols.Ovsdb;

/// <summary>
/// One column value in normalised form: an atom is one key; a set is its keys; a map is keys with
/// parallel values. Atoms are JSON as on the wire (<c>"name"</c>, <c>5</c>, <c>["uuid","…"]</c>).
/// </summary>
public sealed class OvsdbDatum
{
    internal OvsdbDatum(List<JsonNode> keys, List<JsonNode>? values)
    {
        Keys = keys;
        Values = values;
    }

    public List<JsonNode> Keys { get; }

    public List<JsonNode>? Values { get; }

    /// <summary>Parses a wire value of the given kind.</summary>
    public static OvsdbDatum FromWire(JsonNode? value, OvsdbColumnKind kind)
    {
        if (kind == OvsdbColumnKind.Map)
        {
            var keys = new List<JsonNode>();
            var values = new List<JsonNode>();
            if (value is JsonArray { Count: 2 } a && a[0]?.GetValueKind() == JsonValueKind.String && a[0]!.GetValue<string>() == "map" && a[1] is JsonArray pairs)
            {
                foreach (var pair in pairs)
                {
                    // A pair with a JSON null on either side is not an OVSDB atom: skipped like any other malformed pair.
                    if (pair is JsonArray { Count: 2 } p && p[0] is { } key && p[1] is { } mapped)
                    {
                        keys.Add(key.DeepClone());
                        values.Add(mapped.DeepClone());
                    }
                }
            }

            return new OvsdbDatum(keys, values);
        }

        if (value is JsonArray { Count: 2 } set && set[0]?.GetValueKind() == JsonValueKind.String && set[0]!.GetValue<string>() == "set" && set[1] is JsonArray elements)
        {
            return new OvsdbDatum([.. elements.OfType<JsonNode>().Select(e => e.DeepClone())], null);
        }

        return value is null ? new OvsdbDatum([], null) : new OvsdbDatum([value.DeepClone()], null);
    }

    /// <summary>Applies an <c>update2</c> "modify" diff (ovsdb-server(7), update2 notification).</summary>
    public OvsdbDatum ApplyDiff(JsonNode? diff, OvsdbColumnKind kind)
    {
        if (kind == OvsdbColumnKind.Atom)
        {
            return FromWire(diff, kind);
        }

        var change = FromWire(diff, kind);
        var keys = new List<JsonNode>(Keys);
        var values = Values is null ? null : new List<JsonNode>(Values);
        for (var i = 0; i < change.Keys.Count; i++)
        {
            var index = keys.FindIndex(k => JsonNode.DeepEquals(k, change.Keys[i]));
            if (kind == OvsdbColumnKind.Set)
            {
                // A set diff is the symmetric difference: present elements leave, absent ones join.
                if (index >= 0)
                {
                    keys.RemoveAt(index);
                }
                else
                {
                    keys.Add(change.Keys[i]);
                }

                continue;
            }

            // Map: same pair removes, new key inserts, other value replaces.
            if (index < 0)
            {
                keys.Add(change.Keys[i]);
                values!.Add(change.Values![i]);
            }
            else if (JsonNode.DeepEquals(values![index], change.Values![i]))
            {
                keys.RemoveAt(index);
                values.RemoveAt(index);
            }
            else
            {
                values[index] = change.Values[i];
            }
        }

        return new OvsdbDatum(keys, values);
    }
}

/// <summary>One row of a replicated table.</summary>
public sealed class OvsdbRow
{
    private readonly Dictionary<string, OvsdbDatum> _columns = new(StringComparer.Ordinal);

    internal OvsdbRow(Guid uuid) => Uuid = uuid;

    public Guid Uuid { get; }

    internal Dictionary<string, OvsdbDatum> Columns => _columns;

    /// <summary>The value of a column, or null when the monitor does not carry it.</summary>
    public OvsdbDatum? this[string column] => _columns.GetValueOrDefault(column);

    /// <summary>A string atom, or "" when absent.</summary>
    public string GetString(string column) =>
        _columns.TryGetValue(column, out var d) && d.Keys.Count > 0 && d.Keys[0].GetValueKind() == JsonValueKind.String ? d.Keys[0].GetValue<string>() : "";

    /// <summary>A boolean atom, or false when absent.</summary>
    public bool GetBoolean(string column) =>
        _columns.TryGetValue(column, out var d) && d.Keys.Count > 0 && d.Keys[0].GetValueKind() == JsonValueKind.True;

    /// <summary>The UUIDs of a set-of-references column (or an optional reference).</summary>
    public IReadOnlyList<Guid> GetUuids(string column) =>
        _columns.TryGetValue(column, out var d) ? [.. d.Keys.Select(OvsdbJson.UuidOf)] : [];

    /// <summary>The integers of a set column (or an optional integer).</summary>
    public IReadOnlyList<long> GetIntegers(string column) =>
        _columns.TryGetValue(column, out var d) ? [.. d.Keys.Select(k => k is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<long>(out var n) ? (long?)n : null).OfType<long>()] : [];

    /// <summary>A string→string map column.</summary>
    public IReadOnlyDictionary<string, string> GetStringMap(string column)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        if (_columns.TryGetValue(column, out var d) && d.Values is not null)
        {
            for (var i = 0; i < d.Keys.Count; i++)
            {
                if (d.Keys[i].GetValueKind() == JsonValueKind.String && d.Values[i].GetValueKind() == JsonValueKind.String)
                {
                    map[d.Keys[i].GetValue<string>()] = d.Values[i].GetValue<string>();
                }
            }
        }

        return map;
    }
}

/// <summary>
/// A local copy of the monitored tables, kept by applying a monitor's initial contents and its
/// <c>update2</c> notifications. Owned by one thread (an actor); not thread-safe.
/// </summary>
public sealed class OvsdbReplica
{
    private readonly OvsdbSchema _schema;
    private readonly Dictionary<string, Dictionary<Guid, OvsdbRow>> _tables = new(StringComparer.Ordinal);

    public OvsdbReplica(OvsdbSchema schema) => _schema = schema ?? throw new ArgumentNullException(nameof(schema));

    public OvsdbSchema Schema => _schema;

    /// <summary>The rows of a table (empty when not monitored or empty).</summary>
    public IReadOnlyDictionary<Guid, OvsdbRow> Table(string name) =>
        _tables.TryGetValue(name, out var rows) ? rows : EmptyTable;

    private static readonly Dictionary<Guid, OvsdbRow> EmptyTable = [];

    /// <summary>Forgets everything (before the initial contents of a new monitor).</summary>
    public void Clear() => _tables.Clear();

    /// <summary>
    /// Applies a &lt;table-updates2&gt; object. Returns the names of the tables that changed.
    /// </summary>
    public IReadOnlyCollection<string> Apply(JsonObject tableUpdates)
    {
        ArgumentNullException.ThrowIfNull(tableUpdates);
        var changed = new List<string>();
        foreach (var (tableName, rowsNode) in tableUpdates)
        {
            if (rowsNode is not JsonObject rowUpdates)
            {
                continue;
            }

            if (!_tables.TryGetValue(tableName, out var rows))
            {
                rows = [];
                _tables[tableName] = rows;
            }

            changed.Add(tableName);
            foreach (var (uuidText, updateNode) in rowUpdates)
            {
                if (!Guid.TryParse(uuidText, out var uuid) || updateNode is not JsonObject update)
                {
                    continue;
                }

                if (update["initial"] is JsonObject initial)
                {
                    rows[uuid] = NewRow(tableName, uuid, initial);
                }
                else if (update["insert"] is JsonObject insert)
                {
                    rows[uuid] = NewRow(tableName, uuid, insert);
                }
                else if (update.ContainsKey("delete"))
                {
                    rows.Remove(uuid);
                }
                else if (update["modify"] is JsonObject modify)
                {
                    if (!rows.TryGetValue(uuid, out var row))
                    {
                        row = new OvsdbRow(uuid);
                        rows[uuid] = row;
                    }

                    foreach (var (column, diff) in modify)
                    {
                        var kind = _schema.KindOf(tableName, column);
                        row.Columns[column] = row.Columns.TryGetValue(column, out var old)
                            ? old.ApplyDiff(diff, kind)
                            : OvsdbDatum.FromWire(diff, kind);
                    }
                }
            }
        }

        return changed;
    }

    private OvsdbRow NewRow(string table, Guid uuid, JsonObject values)
    {
        var row = new OvsdbRow(uuid);
        foreach (var (column, value) in values)
        {
            row.Columns[column] = OvsdbDatum.FromWire(value, _schema.KindOf(table, column));
        }

        return row;
    }
}
