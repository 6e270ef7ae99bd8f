using System.Text.Json;
using System.Text.Json.Nodes;

namespace Fabric.Protocols.Ovsdb;

/// <summary>How a column's values are shaped on the wire (RFC 7047 section 3.2, &lt;type&gt;).</summary>
public enum OvsdbColumnKind
{
    /// <summary>Exactly one atom (min 1, max 1, no value type).</summary>
    Atom,

    /// <summary>A set of atoms (including optional values: min 0, max 1).</summary>
    Set,

    /// <summary>A map from key atoms to value atoms.</summary>
    Map,
}

/// <summary>The parts of a database schema a client needs to interpret rows and <c>update2</c> diffs.</summary>
public sealed class OvsdbSchema
{
    private OvsdbSchema(string name, string version, Dictionary<string, IReadOnlyDictionary<string, OvsdbColumnKind>> tables)
    {
        Name = name;
        Version = version;
        Tables = tables;
    }

    public string Name { get; }

    public string Version { get; }

    /// <summary>Table name → column name → kind.</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, OvsdbColumnKind>> Tables { get; }

    /// <summary>The kind of a column; <c>_uuid</c> and <c>_version</c> are atoms; unknown columns are treated as atoms.</summary>
    public OvsdbColumnKind KindOf(string table, string column) =>
        Tables.TryGetValue(table, out var columns) && columns.TryGetValue(column, out var kind) ? kind : OvsdbColumnKind.Atom;

    /// <summary>Parses a &lt;database-schema&gt; object (the result of <c>get_schema</c>, or an .ovsschema file).</summary>
    public static OvsdbSchema Parse(JsonObject schema)
    {
        ArgumentNullException.ThrowIfNull(schema);
        var tables = new Dictionary<string, IReadOnlyDictionary<string, OvsdbColumnKind>>(StringComparer.Ordinal);
        if (schema["tables"] is not JsonObject tableObjects)
        {
            throw new OvsdbProtocolException("schema: missing \"tables\"");
        }

        foreach (var (tableName, tableNode) in tableObjects)
        {
            var columns = new Dictionary<string, OvsdbColumnKind>(StringComparer.Ordinal);
            if (tableNode is not JsonObject table)
            {
                throw new OvsdbProtocolException($"schema: table \"{tableName}\" is not an object");
            }

            if (table["columns"] is JsonObject columnObjects)
            {
                foreach (var (columnName, columnNode) in columnObjects)
                {
                    columns[columnName] = columnNode is JsonObject column
                        ? KindOfType(column["type"])
                        : throw new OvsdbProtocolException($"schema: column \"{tableName}.{columnName}\" is not an object");
                }
            }

            tables[tableName] = columns;
        }

        return new OvsdbSchema(
            StringOrEmpty(schema, "name"),
            StringOrEmpty(schema, "version"),
            tables);
    }

    private static string StringOrEmpty(JsonObject schema, string key) => schema[key] switch
    {
        null => "",
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        _ => throw new OvsdbProtocolException($"schema: \"{key}\" is not a string"),
    };

    /// <summary>An integer <c>min</c>/<c>max</c>; a number that is not a 64-bit integer counts as unbounded (a set).</summary>
    private static long Bound(JsonNode? node, long absent) =>
        node is null ? absent
        : node is JsonValue value && value.GetValueKind() == JsonValueKind.Number && value.TryGetValue<long>(out var bound) ? bound
        : long.MaxValue;

    private static OvsdbColumnKind KindOfType(JsonNode? type)
    {
        if (type is not JsonObject t)
        {
            return OvsdbColumnKind.Atom; // "type": "string" and friends
        }

        if (t["value"] is not null)
        {
            return OvsdbColumnKind.Map;
        }

        var min = t["min"] is JsonValue m && m.GetValueKind() == JsonValueKind.Number && m.TryGetValue<long>(out var low) ? low : 1;
        var max = Bound(t["max"], 1);
        return min == 1 && max == 1 ? OvsdbColumnKind.Atom : OvsdbColumnKind.Set;
    }
}
