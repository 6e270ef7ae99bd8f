using System.Text.Json;
using System.Text.Json.Nodes;

namespace Fabric.Protocols.Ovsdb;

/// <summary>Builders for RFC 7047 values and operations (section 5.1 notation, section 5.2 operations).</summary>
public static class OvsdbJson
{
    /// <summary><c>["uuid", "…"]</c>.</summary>
    public static JsonArray Uuid(Guid uuid) => ["uuid", uuid.ToString("D")];

    /// <summary><c>["named-uuid", name]</c>: a row inserted earlier in the same transaction.</summary>
    public static JsonArray NamedUuid(string name) => ["named-uuid", name];

    /// <summary><c>["set", [...]]</c>.</summary>
    public static JsonArray Set(IEnumerable<JsonNode> elements) => ["set", new JsonArray([.. elements])];

    /// <summary><c>["map", [[k, v], ...]]</c> of strings.</summary>
    public static JsonArray Map(IEnumerable<KeyValuePair<string, string>> pairs) =>
        ["map", new JsonArray([.. pairs.Select(p => (JsonNode)new JsonArray(p.Key, p.Value))])];

    /// <summary>The UUID in <c>["uuid", "…"]</c>; <see cref="Guid.Empty"/> when it is not one.</summary>
    public static Guid UuidOf(JsonNode? node) =>
        node is JsonArray { Count: 2 } a && a[1]?.GetValueKind() == JsonValueKind.String && Guid.TryParse(a[1]!.GetValue<string>(), out var g) ? g : Guid.Empty;

    /// <summary><c>[["_uuid", "==", ["uuid", …]]]</c>.</summary>
    public static JsonArray WhereUuid(Guid uuid) => [new JsonArray("_uuid", "==", Uuid(uuid))];

    public static JsonObject Insert(string table, JsonObject row, string? uuidName = null)
    {
        var op = new JsonObject { ["op"] = "insert", ["table"] = table, ["row"] = row };
        if (uuidName is not null)
        {
            op["uuid-name"] = uuidName;
        }

        return op;
    }

    public static JsonObject Update(string table, JsonArray where, JsonObject row) =>
        new() { ["op"] = "update", ["table"] = table, ["where"] = where, ["row"] = row };

    public static JsonObject Delete(string table, JsonArray where) =>
        new() { ["op"] = "delete", ["table"] = table, ["where"] = where };

    /// <summary>A <c>mutate</c> with one mutation, e.g. <c>("mirrors", "insert", ["set", [...]])</c>.</summary>
    public static JsonObject Mutate(string table, JsonArray where, string column, string mutator, JsonNode value) =>
        new() { ["op"] = "mutate", ["table"] = table, ["where"] = where, ["mutations"] = new JsonArray(new JsonArray(column, mutator, value)) };

    public static JsonObject Comment(string text) => new() { ["op"] = "comment", ["comment"] = text };
}
