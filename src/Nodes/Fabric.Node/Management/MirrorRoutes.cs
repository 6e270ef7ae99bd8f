using System.Collections.Immutable;
using System.Text.Json;
using Akka.Actor;
using Fabric.Configuration;
using Fabric.Actors.Mirrors;
using Fabric.Actors.Mirrors.Registry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Fabric.Node.Management;

/// <summary>
/// Mirror sessions through the supervisor singleton (via this node's proxy):
/// <c>GET /mirrors</c>, <c>GET /mirrors/{name}</c>, <c>POST /mirrors</c> (define or change),
/// <c>DELETE /mirrors/{name}</c>, <c>POST /mirrors/{name}/repair</c>,
/// <c>GET /mirrors/{name}/history?limit=N</c>. The JSON shapes are what <c>fabric mirrors</c> reads.
/// </summary>
public sealed class MirrorRoutes : IManagementRoutes
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(10);

    public void Map(IEndpointRouteBuilder routes)
    {
        routes.MapGet("/mirrors", ListAsync);
        routes.MapGet("/mirrors/{name}", ShowAsync);
        routes.MapGet("/mirrors/{name}/history", HistoryAsync);
        routes.MapPost("/mirrors", AddAsync).RequireManagementToken();
        routes.MapDelete("/mirrors/{name}", RemoveAsync).RequireManagementToken();
        routes.MapPost("/mirrors/{name}/repair", RepairAsync).RequireManagementToken();
    }

    private static async Task<IResult> ListAsync(ActorSystem system) =>
        await AskAsync<MirrorSessionList>(system, ListMirrorSessions.Instance, list =>
            Results.Json(new MirrorListJson([.. list.Sessions.Select(SessionJson.From)], list.Journal is null ? null : JournalJson.From(list.Journal)), ManagementResults.Json)).ConfigureAwait(false);

    private static async Task<IResult> ShowAsync(string name, ActorSystem system) =>
        await AskAsync<MirrorSessionDetail>(system, new GetMirrorSession(name), detail => detail.View is null
            ? ManagementResults.Error(StatusCodes.Status404NotFound, $"no mirror session {name}")
            : Results.Json(SessionJson.From(detail.View), ManagementResults.Json)).ConfigureAwait(false);

    private static async Task<IResult> HistoryAsync(string name, HttpContext http, ActorSystem system)
    {
        var limit = 100;
        if (http.Request.Query.TryGetValue("limit", out var text) && (!int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out limit) || limit < 1))
        {
            return ManagementResults.Error(StatusCodes.Status400BadRequest, $"limit: expected a positive integer, got \"{text}\"");
        }

        return await AskAsync<MirrorHistory>(system, new GetMirrorHistory(name, limit), history => !history.Known
            ? ManagementResults.Error(StatusCodes.Status404NotFound, $"no mirror session {name}")
            : Results.Json(new HistoryJson(name, [.. history.Entries.Select(HistoryEntryJson.From)]), ManagementResults.Json)).ConfigureAwait(false);
    }

    private static async Task<IResult> AddAsync(HttpContext http, ActorSystem system)
    {
        MirrorSessionSpec spec;
        try
        {
            using var body = await JsonDocument.ParseAsync(http.Request.Body, cancellationToken: http.RequestAborted).ConfigureAwait(false);
            spec = ParseSpec(body.RootElement, MirrorsExtension.Get(system).Settings);
        }
        catch (JsonException e)
        {
            return ManagementResults.Error(StatusCodes.Status400BadRequest, "body: not JSON: " + e.Message);
        }
        catch (FabricConfigException e)
        {
            return ManagementResults.Error(StatusCodes.Status400BadRequest, e.Message);
        }

        return await AskAsync<MirrorCommandResult>(system, new DefineMirrorSession(spec), CommandAnswer).ConfigureAwait(false);
    }

    private static async Task<IResult> RemoveAsync(string name, ActorSystem system) =>
        await AskAsync<MirrorCommandResult>(system, new RemoveMirrorSession(name), CommandAnswer).ConfigureAwait(false);

    /// <summary>Done: 200; refused because the supervisor's journal is unavailable (nothing changed, send again later): 503; otherwise 400.</summary>
    private static IResult CommandAnswer(MirrorCommandResult r) =>
        r.Ok ? Results.Json(new CommandJson(r.Changed, r.Message), ManagementResults.Json)
        : r.JournalUnavailable ? ManagementResults.Error(StatusCodes.Status503ServiceUnavailable, r.Message)
        : ManagementResults.Error(StatusCodes.Status400BadRequest, r.Message);

    private static async Task<IResult> RepairAsync(string name, ActorSystem system) =>
        await AskAsync<RepairSessionResult>(system, new RepairMirrorSession(name), r => !r.Known
            ? ManagementResults.Error(StatusCodes.Status404NotFound, $"no mirror session {name}")
            : Results.Json(new RepairJson(name, r.Drift, r.Status is null ? null : StatusJson.From(r.Status)), ManagementResults.Json)).ConfigureAwait(false);

    private static async Task<IResult> AskAsync<T>(ActorSystem system, object message, Func<T, IResult> answer)
    {
        var supervisor = MirrorsExtension.Get(system).Supervisor;
        if (supervisor is null)
        {
            return ManagementResults.Error(StatusCodes.Status503ServiceUnavailable, "mirror supervision is not running on this node");
        }

        try
        {
            return await supervisor.Ask<object>(message, AskTimeout).ConfigureAwait(false) switch
            {
                T reply => answer(reply),
                MirrorSupervisorUnavailable unavailable => ManagementResults.Error(StatusCodes.Status503ServiceUnavailable, unavailable.Reason),
                var other => ManagementResults.Error(StatusCodes.Status500InternalServerError, $"unexpected answer from the mirror supervisor: {other.GetType().Name}"),
            };
        }
        catch (AskTimeoutException)
        {
            return ManagementResults.Error(StatusCodes.Status503ServiceUnavailable,
                $"no answer from the mirror supervisor (or the session's site agent) within {AskTimeout.TotalSeconds:0} s; is a node with role supervisor up?");
        }
    }

    /// <summary>
    /// Reads a session from the POST body: <c>{"name","site","backend"?,"bridge"?,"sources":[...],
    /// "direction"?,"output","snaplen"?,"enabled"?}</c>. Problems name the field.
    /// </summary>
    internal static MirrorSessionSpec ParseSpec(JsonElement body, MirrorSettings? settings)
    {
        if (body.ValueKind != JsonValueKind.Object)
        {
            throw new FabricConfigException("body", "expected a JSON object");
        }

        string Text(string key, bool required)
        {
            if (body.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String)
            {
                return v.GetString()!;
            }

            if (body.TryGetProperty(key, out var bad) && bad.ValueKind != JsonValueKind.Null)
            {
                throw new FabricConfigException(key, "expected a string");
            }

            return required ? throw new FabricConfigException(key, "missing (required)") : "";
        }

        // The fields are the backends' session keys: a new backend's options need no edit here.
        var backends = settings?.Backends ?? MirrorBackends.Set;
        foreach (var property in body.EnumerateObject())
        {
            if (!backends.SessionKeys.Contains(property.Name))
            {
                throw new FabricConfigException(property.Name, $"unknown field (allowed: {string.Join(", ", backends.SessionKeys)})");
            }
        }

        var site = Text("site", true);
        var backendText = Text("backend", false);
        MirrorBackendKind backend;
        if (backendText.Length == 0)
        {
            // An unknown site: the first registered backend, only so that the supervisor can name the site in its refusal.
            backend = settings?.Site(site)?.Backend ?? backends.All[0].Kind;
        }
        else if (!Enum.TryParse(backendText, ignoreCase: true, out backend) || backends.Find(backend) is null)
        {
            throw new FabricConfigException("backend", $"expected one of {backends.Names}, got \"{backendText}\"");
        }

        var direction = MirrorDirection.Both;
        var directionText = Text("direction", false);
        if (directionText.Length > 0 && (!Enum.TryParse(directionText, ignoreCase: true, out direction) || !Enum.IsDefined(direction)))
        {
            throw new FabricConfigException("direction", $"expected both, ingress or egress, got \"{directionText}\"");
        }

        if (!body.TryGetProperty("sources", out var sourcesElement) || sourcesElement.ValueKind != JsonValueKind.Array)
        {
            throw new FabricConfigException("sources", "expected a list of sources");
        }

        var sources = ImmutableArray.CreateBuilder<string>();
        var i = 0;
        foreach (var s in sourcesElement.EnumerateArray())
        {
            sources.Add(s.ValueKind == JsonValueKind.String ? s.GetString()! : throw new FabricConfigException($"sources[{i}]", "expected a string"));
            i++;
        }

        int? snaplen = null;
        if (body.TryGetProperty("snaplen", out var snap) && snap.ValueKind != JsonValueKind.Null)
        {
            snaplen = snap.ValueKind == JsonValueKind.Number && snap.TryGetInt32(out var n) ? n : throw new FabricConfigException("snaplen", "expected an integer");
        }

        int? Int(string key) => !body.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null ? null
            : v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var n) ? n : throw new FabricConfigException(key, "expected an integer");
        string? Optional(string key) => Text(key, false) is { Length: > 0 } t ? t : null;
        var options = new MirrorBackendOptions(Int("session-number"), Int("erspan-id"), Optional("origin-ip"), Int("mtu"), Optional("filter-id"), Int("vni"), Int("packet-length"), Optional("pipeline"));

        var enabled = !body.TryGetProperty("enabled", out var en) || en.ValueKind != JsonValueKind.False;
        return new MirrorSessionSpec(Text("name", true), site, backend, Text("bridge", false), sources.ToImmutable(), direction, Text("output", true), snaplen, enabled,
            options == MirrorBackendOptions.None ? null : options);
    }

    public sealed record MirrorListJson(IReadOnlyList<SessionJson> Sessions, JournalJson? Journal);

    /// <summary>The supervisor's journal (see <see cref="MirrorJournalStatus"/>).</summary>
    public sealed record JournalJson(bool Available, bool Recovered, DateTimeOffset? UnavailableSince, string? Problem, int Pending, long Failures, DateTimeOffset? LastRecoveredAt)
    {
        public static JournalJson From(MirrorJournalStatus j) => new(j.Available, j.Recovered, j.UnavailableSince, j.Problem, j.Pending, j.Failures, j.LastRecoveredAt);
    }

    public sealed record CommandJson(bool Changed, string Message);

    public sealed record RepairJson(string Name, string? Drift, StatusJson? Status);

    public sealed record HistoryJson(string Name, IReadOnlyList<HistoryEntryJson> Entries);

    public sealed record StatusJson(string Health, string? Reason, string Describe, DateTimeOffset Since)
    {
        public static StatusJson From(MirrorSessionStatus s) => new(s.Health.ToString().ToLowerInvariant(), s.Reason, s.Describe(), s.Since);
    }

    public sealed record RepairEntryJson(DateTimeOffset DetectedAt, string Trigger, string Missing, double DurationMs, string? Error)
    {
        public static RepairEntryJson From(MirrorRepair r) => new(r.DetectedAt, r.Trigger, r.Missing, r.Duration.TotalMilliseconds, r.Error);
    }

    public sealed record HistoryEntryJson(DateTimeOffset At, string Kind, string Text, RepairEntryJson? Repair)
    {
        public static HistoryEntryJson From(MirrorHistoryEntry e) => new(e.At, e.Kind, e.Text, e.Repair is null ? null : RepairEntryJson.From(e.Repair));
    }

    public sealed record SessionJson(
        string Name,
        string Site,
        string Backend,
        string Bridge,
        IReadOnlyList<string> Sources,
        string Direction,
        string Output,
        int? Snaplen,
        bool Enabled,
        StatusJson Status,
        long RepairCount,
        RepairEntryJson? LastRepair,
        OptionsJson? Options = null,
        IReadOnlyList<BackendSessionJson>? BackendSessions = null)
    {
        public static SessionJson From(MirrorSessionView v) => new(
            v.Spec.Name,
            v.Spec.Site,
            v.Spec.Backend.ToString().ToLowerInvariant(),
            v.Spec.Bridge,
            v.Spec.Sources,
            v.Spec.Direction.ToString().ToLowerInvariant(),
            v.Spec.Output,
            v.Spec.SnapLength,
            v.Spec.Enabled,
            StatusJson.From(v.Status),
            v.RepairCount,
            v.LastRepair is null ? null : RepairEntryJson.From(v.LastRepair),
            v.Spec.Options is null ? null : OptionsJson.From(v.Spec.Options),
            v.BackendSessions.IsDefaultOrEmpty ? null : [.. v.BackendSessions.Select(BackendSessionJson.From)]);
    }

    /// <summary>A session the backend holds for this one (aws: per source ENI), as its agent last read it.</summary>
    public sealed record BackendSessionJson(string Id, string Source, string? Instance, string? SourceName, int? SessionNumber, int? Vni, string Target, string? TargetDetail)
    {
        public static BackendSessionJson From(MirrorBackendSession s) => new(s.Id, s.Source, s.InstanceId, s.SourceName, s.Number, s.Vni, s.Target, s.TargetDetail);
    }

    /// <summary>Backend options (iosxe, aws) as the console shows them; nulls omitted.</summary>
    public sealed record OptionsJson(
        [property: System.Text.Json.Serialization.JsonPropertyName("session-number")] int? SessionNumber,
        [property: System.Text.Json.Serialization.JsonPropertyName("erspan-id")] int? ErspanId,
        [property: System.Text.Json.Serialization.JsonPropertyName("origin-ip")] string? OriginIp,
        [property: System.Text.Json.Serialization.JsonPropertyName("mtu")] int? Mtu,
        [property: System.Text.Json.Serialization.JsonPropertyName("filter-id")] string? FilterId,
        [property: System.Text.Json.Serialization.JsonPropertyName("vni")] int? Vni,
        [property: System.Text.Json.Serialization.JsonPropertyName("packet-length")] int? PacketLength,
        [property: System.Text.Json.Serialization.JsonPropertyName("pipeline")] string? Pipeline = null)
    {
        public static OptionsJson From(MirrorBackendOptions o) => new(o.SessionNumber, o.ErspanId, o.OriginIp, o.Mtu, o.FilterId, o.Vni, o.PacketLength, o.Pipeline);
    }
}
