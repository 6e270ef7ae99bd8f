using System.Globalization;
using System.Text.Json.Nodes;
using Fabric.Actors.Mirrors.Backends;

namespace Fabric.Actors.Mirrors.IosXe;

/// <summary>
/// Keeps <c>monitor session N type erspan-source</c> on a Cisco IOS-XE router over RESTCONF
/// (Cisco-IOS-XE-native <c>native/monitor/session=N</c>, augmented by Cisco-IOS-XE-monitor):
/// <code>
/// monitor session 1 type erspan-source
///  description fabric-session=csr-uplink
///  source interface GigabitEthernet1 both
///  destination
///   erspan-id 100
///   ip address 10.0.0.5
///   mtu 1464
///   origin ip address 10.0.0.1
/// </code>
/// The description marks the session as Fabric's: a session of that number without the mark is
/// left alone (<c>degraded</c>). A missing session, <c>shutdown</c>, or a differing source,
/// direction, erspan-id, destination, origin or MTU is replaced with the desired session in one
/// PUT (RESTCONF replace), which leaves it not shut down.
/// </summary>
public sealed class IosXeBackend : IMirrorBackend
{
    /// <summary>Description prefix marking a session as Fabric's.</summary>
    public const string Marker = "fabric-session=";

    private const string Monitor = "Cisco-IOS-XE-native:native/monitor";
    private const string SessionMember = "Cisco-IOS-XE-monitor:session";
    private readonly RestconfClient _client;

    public IosXeBackend(RestconfClient client) => _client = client;

    public static string SessionPath(int number) => string.Create(CultureInfo.InvariantCulture, $"{Monitor}/session={number}");

    public bool Accepts(MirrorSessionSpec spec) => spec?.Backend == MirrorBackendKind.Iosxe;

    /// <summary>The desired session as YANG-JSON (the body of the PUT).</summary>
    public static JsonObject Desired(MirrorSessionSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var o = spec.Opts;
        var direction = DirectionOf(spec.Direction);
        var destination = new JsonObject
        {
            ["erspan-id"] = o.ErspanId,
            ["ip"] = new JsonObject { ["address"] = spec.Output },
        };
        if (o.Mtu is { } mtu)
        {
            destination["mtu"] = mtu;
        }

        destination["origin"] = new JsonObject { ["ip"] = new JsonObject { ["address"] = o.OriginIp } };
        var session = new JsonObject
        {
            ["id"] = o.SessionNumber,
            ["type"] = new JsonObject
            {
                ["erspan-source"] = new JsonObject
                {
                    ["description"] = Marker + spec.Name,
                    ["source"] = new JsonObject
                    {
                        ["interface"] = new JsonArray([.. spec.Sources.Select(s => (JsonNode)new JsonObject { ["name"] = s, ["direction"] = direction })]),
                    },
                    ["destination"] = destination,
                },
            },
        };
        return new JsonObject { [SessionMember] = new JsonArray(session) };
    }

    public async Task<MirrorBackendOutcome> ReconcileAsync(MirrorSessionSpec spec, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var number = spec.Opts.SessionNumber!.Value;
        var path = SessionPath(number);
        var current = await _client.GetAsync(path, cancellationToken).ConfigureAwait(false);
        var erspan = (current?[SessionMember] as JsonArray)?.FirstOrDefault()?["type"]?["erspan-source"] as JsonObject;
        string drift;
        if (current is null || (current[SessionMember] as JsonArray) is not { Count: > 0 })
        {
            drift = $"monitor session {number} missing";
        }
        else if (erspan is null)
        {
            return Degraded(number, "is not an erspan-source session");
        }
        else if (Text(erspan["description"]) is var description && description != Marker + spec.Name)
        {
            return description?.StartsWith(Marker, StringComparison.Ordinal) == true
                ? Degraded(number, $"belongs to Fabric session {description[Marker.Length..]}")
                : Degraded(number, $"was not created by Fabric (description \"{description}\")");
        }
        else
        {
            drift = Compare(spec, erspan);
            if (drift.Length == 0)
            {
                return MirrorBackendOutcome.InSync;
            }
        }

        try
        {
            await _client.PutAsync(path, Desired(spec), cancellationToken).ConfigureAwait(false);
        }
        catch (RestconfException ex)
        {
            return new MirrorBackendOutcome(MirrorHealth.Failed, ex.Message, drift, ex.Message);
        }

        return new MirrorBackendOutcome(MirrorHealth.Healthy, null, drift, null);
    }

    public async Task<IReadOnlyList<string>> RemoveOrphansAsync(IReadOnlySet<string> assigned, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(assigned);
        var monitor = await _client.GetAsync(Monitor, cancellationToken).ConfigureAwait(false);
        var sessions = monitor?["Cisco-IOS-XE-native:monitor"]?[SessionMember] as JsonArray ?? [];
        var removed = new List<string>();
        foreach (var session in sessions)
        {
            var description = Text(session?["type"]?["erspan-source"]?["description"]);
            if (description is null || !description.StartsWith(Marker, StringComparison.Ordinal) || assigned.Contains(description[Marker.Length..])
                || session?["id"] is not JsonValue id || !id.TryGetValue<int>(out var number))
            {
                continue;
            }

            await _client.DeleteAsync(SessionPath(number), cancellationToken).ConfigureAwait(false);
            removed.Add(string.Create(CultureInfo.InvariantCulture, $"monitor session {number} ({description})"));
        }

        return removed;
    }

    public void Dispose() => _client.Dispose();

    /// <summary>What differs between the desired session and <paramref name="erspan"/> (empty: nothing).</summary>
    internal static string Compare(MirrorSessionSpec spec, JsonObject erspan)
    {
        var o = spec.Opts;
        var found = new List<string>();
        if (erspan.ContainsKey("shutdown"))
        {
            found.Add("shut down");
        }

        var direction = DirectionOf(spec.Direction);
        var sources = (erspan["source"]?["interface"] as JsonArray ?? []).Select(i => $"{Text(i?["name"])} {Text(i?["direction"])}").Order(StringComparer.Ordinal).ToList();
        var wanted = spec.Sources.Select(s => $"{s} {direction}").Order(StringComparer.Ordinal).ToList();
        if (!sources.SequenceEqual(wanted))
        {
            found.Add($"sources [{string.Join(", ", sources)}] (want [{string.Join(", ", wanted)}])");
        }

        var destination = erspan["destination"];
        Expect(found, "erspan-id", Text(destination?["erspan-id"]), o.ErspanId?.ToString(CultureInfo.InvariantCulture));
        Expect(found, "destination ip", Text(destination?["ip"]?["address"]), spec.Output);
        Expect(found, "origin ip", Text(destination?["origin"]?["ip"]?["address"]), o.OriginIp);
        if (o.Mtu is { } mtu)
        {
            Expect(found, "mtu", Text(destination?["mtu"]), mtu.ToString(CultureInfo.InvariantCulture));
        }

        return string.Join("; ", found);
    }

    private static void Expect(List<string> found, string what, string? actual, string? wanted)
    {
        if (actual != wanted)
        {
            found.Add($"{what} {actual ?? "unset"} (want {wanted})");
        }
    }

    private static string DirectionOf(MirrorDirection direction) => direction switch
    {
        MirrorDirection.Ingress => "rx",
        MirrorDirection.Egress => "tx",
        _ => "both",
    };

    private static MirrorBackendOutcome Degraded(int number, string why) =>
        new(MirrorHealth.Degraded, string.Create(CultureInfo.InvariantCulture, $"monitor session {number} {why}; left as it is"), null, null);

    private static string? Text(JsonNode? node) => node is JsonValue value
        ? value.TryGetValue<string>(out var s) ? s : value.ToJsonString()
        : null;
}
