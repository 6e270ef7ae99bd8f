using System.Text.Json;
using System.Text.Json.Nodes;

namespace Fabric.Protocols.Ovsdb;

/// <summary>
/// Checks the shape of a &lt;table-updates2&gt; object (a monitor_cond reply or the second
/// parameter of an <c>update2</c> notification, ovsdb-server(7)) against the schema before
/// anything applies it, so that a server sending wrongly typed fields is refused as a whole
/// (the connection is dropped and the monitor resynchronised) instead of leaving a replica half
/// updated or throwing in the agent.
/// </summary>
/// <remarks>
/// <code>
/// &lt;table-updates2&gt; = { &lt;table&gt;: { &lt;uuid&gt;: &lt;row-update2&gt; } }
/// &lt;row-update2&gt;    = {"initial": &lt;row&gt;} | {"insert": &lt;row&gt;} | {"delete": null} | {"modify": &lt;row&gt;}
/// &lt;row&gt;            = { &lt;column&gt;: &lt;value&gt; }
/// &lt;value&gt;          = &lt;atom&gt; | ["set", [&lt;atom&gt;...]] | ["map", [[&lt;atom&gt;, &lt;atom&gt;]...]]
/// &lt;atom&gt;           = string | number | true | false | ["uuid", string] | ["named-uuid", string]
/// </code>
/// A map column must carry a map; an atom column an atom; a set column an atom or a set
/// (RFC 7047 5.1). Problems name the table, row and column.
/// </remarks>
public static class OvsdbUpdateValidator
{
    /// <summary>Throws <see cref="OvsdbProtocolException"/> naming the first problem of <paramref name="tableUpdates"/>.</summary>
    public static void Validate(OvsdbSchema schema, JsonObject tableUpdates, string what)
    {
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentNullException.ThrowIfNull(tableUpdates);
        foreach (var (table, rows) in tableUpdates)
        {
            if (rows is not JsonObject rowUpdates)
            {
                throw Problem(what, $"table \"{Short(table)}\": expected an object of row updates, got {KindOf(rows)}");
            }

            foreach (var (uuid, update) in rowUpdates)
            {
                var where = $"table \"{Short(table)}\" row \"{Short(uuid)}\"";
                if (!Guid.TryParse(uuid, out _))
                {
                    throw Problem(what, where + ": not a UUID");
                }

                if (update is not JsonObject rowUpdate || rowUpdate.Count != 1)
                {
                    throw Problem(what, where + ": expected one of {\"initial\"|\"insert\"|\"modify\": {...}} or {\"delete\": null}");
                }

                var (kind, row) = rowUpdate.First();
                switch (kind)
                {
                    case "delete" when row is null:
                        break;
                    case "initial" or "insert" or "modify" when row is JsonObject columns:
                        foreach (var (column, value) in columns)
                        {
                            CheckValue(schema.KindOf(table, column), value, what, $"{where} column \"{Short(column)}\"");
                        }

                        break;
                    default:
                        throw Problem(what, $"{where}: \"{Short(kind)}\" with {KindOf(row)} is not a row update");
                }
            }
        }
    }

    private static void CheckValue(OvsdbColumnKind kind, JsonNode? value, string what, string where)
    {
        if (value is JsonArray { Count: 2 } tagged && tagged[0] is JsonValue tag && tag.GetValueKind() == JsonValueKind.String)
        {
            var name = tag.GetValue<string>();
            if (name == "set")
            {
                if (kind == OvsdbColumnKind.Map || tagged[1] is not JsonArray elements)
                {
                    throw Problem(what, $"{where}: a set where the schema has a {kind.ToString().ToLowerInvariant()}");
                }

                foreach (var element in elements)
                {
                    CheckAtom(element, what, where);
                }

                return;
            }

            if (name == "map")
            {
                if (kind != OvsdbColumnKind.Map || tagged[1] is not JsonArray pairs)
                {
                    throw Problem(what, $"{where}: a map where the schema has a {kind.ToString().ToLowerInvariant()}");
                }

                foreach (var pair in pairs)
                {
                    if (pair is not JsonArray { Count: 2 } p)
                    {
                        throw Problem(what, $"{where}: a map entry must be [key, value], got {KindOf(pair)}");
                    }

                    CheckAtom(p[0], what, where);
                    CheckAtom(p[1], what, where);
                }

                return;
            }
        }

        if (kind == OvsdbColumnKind.Map)
        {
            throw Problem(what, $"{where}: expected [\"map\", [...]], got {KindOf(value)}");
        }

        CheckAtom(value, what, where);
    }

    private static void CheckAtom(JsonNode? atom, string what, string where)
    {
        var ok = atom switch
        {
            JsonValue v => v.GetValueKind() is JsonValueKind.String or JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False,
            JsonArray { Count: 2 } a => a[0] is JsonValue t && t.GetValueKind() == JsonValueKind.String && t.GetValue<string>() is "uuid" or "named-uuid"
                                        && a[1] is JsonValue u && u.GetValueKind() == JsonValueKind.String,
            _ => false,
        };
        if (!ok)
        {
            throw Problem(what, $"{where}: expected an atom (string, number, boolean or [\"uuid\", ...]), got {KindOf(atom)}");
        }
    }

    private static string KindOf(JsonNode? node) => node switch
    {
        null => "null",
        JsonObject => "an object",
        JsonArray a => $"an array of {a.Count}",
        _ => node.GetValueKind().ToString().ToLowerInvariant(),
    };

    private static string Short(string text) => text.Length <= 64 ? text : text[..64] + "…";

    private static OvsdbProtocolException Problem(string what, string problem) => new($"{what}: {problem}");
}
