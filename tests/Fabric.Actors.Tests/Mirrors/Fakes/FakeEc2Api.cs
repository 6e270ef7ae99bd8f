using System.Globalization;
using System.Security;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace Fabric.Actors.Tests.Mirrors.Fakes;

/// <summary>
/// An in-process FAKE of the EC2 Query API (form-encoded POST, XML answers in the
/// <c>http://ec2.amazonaws.com/doc/2016-11-15/</c> namespace as AWS documents them), only the
/// actions Fabric uses: DescribeNetworkInterfaces (filters tag:K, tag-key, vpc-id, subnet-id),
/// DescribeTrafficMirrorSessions (filters tag:K, tag-key, network-interface-id, traffic-mirror-session-id),
/// CreateTrafficMirrorSession (ClientToken idempotency: a repeated token is answered with the
/// session it created, also after that session was deleted - the pessimistic reading of EC2 idempotency -, TagSpecification, at most 3 sessions per
/// source ENI -> TrafficMirrorSessionsPerInterfaceLimitExceeded, session number 1-32766) and
/// DeleteTrafficMirrorSession, DescribeTrafficMirrorTargets (TrafficMirrorTargetId.N; an unknown id is
/// InvalidTrafficMirrorTargetId.NotFound); a create without VirtualNetworkId gets an account-wide
/// unique random VNI, as AWS documents. ENIs may be attached to an instance. It can answer
/// RequestLimitExceeded (503) to test backoff.
/// Requests must carry a SigV4 Authorization header with the expected access key id.
/// NOT AWS: name tests using it ...AgainstFakeEc2...
/// </summary>
public sealed class FakeEc2Api : IAsyncDisposable
{
    private const string Ns = "http://ec2.amazonaws.com/doc/2016-11-15/";
    private readonly object _gate = new();
    private readonly string _accessKeyId;
    private readonly Dictionary<string, Eni> _enis = [];
    private readonly Dictionary<string, MirrorSession> _sessions = [];
    private readonly Dictionary<string, string> _tokens = [];
    private readonly Dictionary<string, MirrorSession> _deleted = [];
    private readonly Dictionary<string, (string Eni, string Description)> _targets = [];
    private int _next = 1;
    private int _throttle;
    private FakeHttpsServer? _server;

    private FakeEc2Api(string accessKeyId) => _accessKeyId = accessKeyId;

    public Uri Url => _server!.Url;

    private List<(DateTime At, string Action, int Status)> Requests { get; } = [];

    /// <summary>(time, action, answered status) of every request so far.</summary>
    public IReadOnlyList<(DateTime At, string Action, int Status)> RequestLog()
    {
        lock (_gate)
        {
            return [.. Requests];
        }
    }

    public static async Task<FakeEc2Api> StartAsync(string accessKeyId)
    {
        var api = new FakeEc2Api(accessKeyId);
        api._server = await FakeHttpsServer.StartAsync(api.Handle, https: false).ConfigureAwait(false);
        return api;
    }

    public void AddEni(string id, string vpc, string subnet, params (string Key, string Value)[] tags)
    {
        lock (_gate)
        {
            _enis[id] = new Eni(id, vpc, subnet, tags.ToDictionary(t => t.Key, t => t.Value));
        }
    }

    /// <summary>The ENI is the primary interface of instance <paramref name="instanceId"/>.</summary>
    public void Attach(string eni, string instanceId)
    {
        lock (_gate)
        {
            _enis[eni] = _enis[eni] with { Instance = instanceId };
        }
    }

    /// <summary>A traffic mirror target (type network-interface: the sensor's ENI).</summary>
    public void AddTarget(string id, string eni, string description)
    {
        lock (_gate)
        {
            _targets[id] = (eni, description);
        }
    }

    /// <summary>The ENI is deleted (instance terminated): its mirror sessions go with it, as in AWS.</summary>
    public void DeleteEni(string id)
    {
        lock (_gate)
        {
            _enis.Remove(id);
            foreach (var s in _sessions.Values.Where(s => s.Eni == id).ToList())
            {
                _sessions.Remove(s.Id);
            }
        }
    }

    /// <summary>Replaces an ENI's tags.</summary>
    public void Retag(string id, params (string Key, string Value)[] tags)
    {
        lock (_gate)
        {
            _enis[id] = _enis[id] with { Tags = tags.ToDictionary(t => t.Key, t => t.Value) };
        }
    }

    /// <summary>Someone else's session (no Fabric tags) on <paramref name="eni"/>.</summary>
    public string AddForeignSession(string eni, int number)
    {
        lock (_gate)
        {
            var id = NewSessionId();
            _sessions[id] = new MirrorSession(id, eni, "tmt-0000000000000000f", "tmf-0000000000000000f", number, 7, null, new Dictionary<string, string>());
            return id;
        }
    }

    /// <summary>The next <paramref name="count"/> requests are answered 503 RequestLimitExceeded.</summary>
    public void Throttle(int count)
    {
        lock (_gate)
        {
            _throttle = count;
        }
    }

    public IReadOnlyList<MirrorSession> Sessions()
    {
        lock (_gate)
        {
            return [.. _sessions.Values];
        }
    }

    public int Count(string action, int status)
    {
        lock (_gate)
        {
            return Requests.Count(r => r.Action == action && r.Status == status);
        }
    }

    public ValueTask DisposeAsync() => _server?.DisposeAsync() ?? ValueTask.CompletedTask;

    private string NewSessionId() => string.Create(CultureInfo.InvariantCulture, $"tms-{_next++:x17}");

    private async Task Handle(HttpContext context)
    {
        var form = await context.Request.ReadFormAsync().ConfigureAwait(false);
        var p = form.ToDictionary(f => f.Key, f => f.Value.ToString(), StringComparer.Ordinal);
        var action = p.GetValueOrDefault("Action") ?? "";
        string? xml;
        int status;
        lock (_gate)
        {
            (status, xml) = Answer(context, action, p);
            Requests.Add((DateTime.UtcNow, action, status));
        }

        context.Response.StatusCode = status;
        context.Response.ContentType = "text/xml;charset=UTF-8";
        await context.Response.WriteAsync(xml).ConfigureAwait(false);
    }

    private (int, string) Answer(HttpContext context, string action, Dictionary<string, string> p)
    {
        var auth = context.Request.Headers.Authorization.ToString();
        if (!auth.StartsWith("AWS4-HMAC-SHA256 Credential=" + _accessKeyId + "/", StringComparison.Ordinal))
        {
            return Error(401, "AuthFailure", "AWS was not able to validate the provided access credentials");
        }

        if (_throttle > 0)
        {
            _throttle--;
            return Error(503, "RequestLimitExceeded", "Request limit exceeded.");
        }

        switch (action)
        {
            case "DescribeNetworkInterfaces":
            {
                var filters = Filters(p);
                var items = _enis.Values.Where(e => filters.All(f => EniMatches(e, f.Name, f.Values))).OrderBy(e => e.Id, StringComparer.Ordinal);
                var body = new StringBuilder("<networkInterfaceSet>");
                foreach (var e in items)
                {
                    body.Append(CultureInfo.InvariantCulture, $"<item><networkInterfaceId>{e.Id}</networkInterfaceId><subnetId>{e.Subnet}</subnetId><vpcId>{e.Vpc}</vpcId><availabilityZone>eu-west-1a</availabilityZone><description/><ownerId>123456789012</ownerId><requesterManaged>false</requesterManaged><status>in-use</status><sourceDestCheck>true</sourceDestCheck><interfaceType>interface</interfaceType>{(e.Instance is null ? "" : $"<attachment><attachmentId>eni-attach-{e.Id[4..]}</attachmentId><instanceId>{e.Instance}</instanceId><instanceOwnerId>123456789012</instanceOwnerId><deviceIndex>0</deviceIndex><status>attached</status><deleteOnTermination>true</deleteOnTermination></attachment>")}{TagSet(e.Tags)}</item>");
                }

                return Ok(action, body.Append("</networkInterfaceSet>").ToString());
            }

            case "DescribeTrafficMirrorSessions":
            {
                var filters = Filters(p);
                var items = _sessions.Values.Where(s => filters.All(f => SessionMatches(s, f.Name, f.Values))).OrderBy(s => s.Id, StringComparer.Ordinal);
                var body = new StringBuilder("<trafficMirrorSessionSet>");
                foreach (var s in items)
                {
                    body.Append(CultureInfo.InvariantCulture, $"<item>{SessionXml(s)}</item>");
                }

                return Ok(action, body.Append("</trafficMirrorSessionSet>").ToString());
            }

            case "CreateTrafficMirrorSession":
                return Create(p);
            case "DescribeTrafficMirrorTargets":
            {
                var body = new StringBuilder("<trafficMirrorTargetSet>");
                for (var i = 1; p.TryGetValue($"TrafficMirrorTargetId.{i}", out var id); i++)
                {
                    if (!_targets.TryGetValue(id, out var target))
                    {
                        return Error(400, "InvalidTrafficMirrorTargetId.NotFound", $"The traffic mirror target ID '{id}' does not exist.");
                    }

                    body.Append(CultureInfo.InvariantCulture, $"<item><trafficMirrorTargetId>{id}</trafficMirrorTargetId><networkInterfaceId>{target.Eni}</networkInterfaceId><type>network-interface</type><description>{SecurityElement.Escape(target.Description)}</description><ownerId>123456789012</ownerId><tagSet/></item>");
                }

                return Ok(action, body.Append("</trafficMirrorTargetSet>").ToString());
            }

            case "DeleteTrafficMirrorSession":
            {
                var id = p.GetValueOrDefault("TrafficMirrorSessionId") ?? "";
                return Remove(id)
                    ? Ok(action, $"<trafficMirrorSessionId>{id}</trafficMirrorSessionId>")
                    : Error(400, "InvalidTrafficMirrorSessionId.NotFound", $"The traffic mirror session ID '{id}' does not exist");
            }

            default:
                return Error(400, "InvalidAction", $"The action {action} is not valid for this web service.");
        }
    }

    private (int, string) Create(Dictionary<string, string> p)
    {
        var eni = p.GetValueOrDefault("NetworkInterfaceId") ?? "";
        var number = int.Parse(p.GetValueOrDefault("SessionNumber") ?? "0", CultureInfo.InvariantCulture);
        var token = p.GetValueOrDefault("ClientToken");
        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 1; p.ContainsKey($"TagSpecification.1.Tag.{i}.Key"); i++)
        {
            tags[p[$"TagSpecification.1.Tag.{i}.Key"]] = p.GetValueOrDefault($"TagSpecification.1.Tag.{i}.Value") ?? "";
        }

        var session = new MirrorSession(
            "", eni, p.GetValueOrDefault("TrafficMirrorTargetId") ?? "", p.GetValueOrDefault("TrafficMirrorFilterId") ?? "", number,
            p.TryGetValue("VirtualNetworkId", out var vni) ? int.Parse(vni, CultureInfo.InvariantCulture) : null,
            p.TryGetValue("PacketLength", out var len) ? int.Parse(len, CultureInfo.InvariantCulture) : null,
            tags);
        if (token is not null && _tokens.TryGetValue(token, out var existing) && (_sessions.TryGetValue(existing, out var earlier) || _deleted.TryGetValue(existing, out earlier)))
        {
            return earlier.Eni == session.Eni && earlier.Number == session.Number && earlier.Target == session.Target && earlier.Filter == session.Filter && (session.Vni is null || earlier.Vni == session.Vni)
                ? Ok("CreateTrafficMirrorSession", $"<trafficMirrorSession>{SessionXml(earlier)}</trafficMirrorSession><clientToken>{token}</clientToken>")
                : Error(400, "IdempotentParameterMismatch", "The client token you have provided is associated with a resource that has different parameters");
        }

        if (!_enis.ContainsKey(eni))
        {
            return Error(400, "InvalidNetworkInterfaceID.NotFound", $"The networkInterface ID '{eni}' does not exist");
        }

        if (number is < 1 or > 32766)
        {
            return Error(400, "InvalidParameterValue", "The session number must be between 1 and 32766");
        }

        if (_sessions.Values.Count(s => s.Eni == eni) >= 3)
        {
            return Error(400, "TrafficMirrorSessionsPerInterfaceLimitExceeded", "The allowed number of Traffic Mirror sessions for the specified network interface has been exceeded.");
        }

        var created = session with { Id = NewSessionId(), Vni = session.Vni ?? UniqueVni() };
        _sessions[created.Id] = created;
        if (token is not null)
        {
            _tokens[token] = created.Id;
        }

        return Ok("CreateTrafficMirrorSession", $"<trafficMirrorSession>{SessionXml(created)}</trafficMirrorSession><clientToken>{token}</clientToken>");
    }

    /// <summary>Someone deletes a session (console, another tool). AWS still answers its client token with it.</summary>
    public void DeleteSession(string id)
    {
        lock (_gate)
        {
            Remove(id);
        }
    }

    /// <summary>An account-wide unique VNI, chosen at random (AWS does this when the create has no VirtualNetworkId).</summary>
    private int UniqueVni()
    {
        while (true)
        {
            var vni = Random.Shared.Next(1, 16_777_216);
            if (!_sessions.Values.Any(s => s.Vni == vni) && !_deleted.Values.Any(s => s.Vni == vni))
            {
                return vni;
            }
        }
    }

    private bool Remove(string id)
    {
        if (!_sessions.Remove(id, out var session))
        {
            return false;
        }

        _deleted[id] = session;
        return true;
    }

    private static string SessionXml(MirrorSession s) =>
        $"<trafficMirrorSessionId>{s.Id}</trafficMirrorSessionId><trafficMirrorTargetId>{s.Target}</trafficMirrorTargetId><trafficMirrorFilterId>{s.Filter}</trafficMirrorFilterId><networkInterfaceId>{s.Eni}</networkInterfaceId><ownerId>123456789012</ownerId>"
        + (s.PacketLength is { } len ? $"<packetLength>{len}</packetLength>" : "")
        + $"<sessionNumber>{s.Number}</sessionNumber>"
        + (s.Vni is { } vni ? $"<virtualNetworkId>{vni}</virtualNetworkId>" : "")
        + "<description>x</description>" + TagSet(s.Tags);

    private static string TagSet(IReadOnlyDictionary<string, string> tags) =>
        "<tagSet>" + string.Concat(tags.Select(t => $"<item><key>{SecurityElement.Escape(t.Key)}</key><value>{SecurityElement.Escape(t.Value)}</value></item>")) + "</tagSet>";

    private static List<(string Name, List<string> Values)> Filters(Dictionary<string, string> p)
    {
        var result = new List<(string, List<string>)>();
        for (var i = 1; p.TryGetValue($"Filter.{i}.Name", out var name); i++)
        {
            var values = new List<string>();
            for (var j = 1; p.TryGetValue($"Filter.{i}.Value.{j}", out var v); j++)
            {
                values.Add(v);
            }

            result.Add((name, values));
        }

        return result;
    }

    private static bool Tagged(IReadOnlyDictionary<string, string> tags, string name, List<string> values) =>
        name == "tag-key" ? values.Any(tags.ContainsKey) : tags.TryGetValue(name[4..], out var v) && values.Contains(v);

    private static bool EniMatches(Eni e, string name, List<string> values) => name switch
    {
        "vpc-id" => values.Contains(e.Vpc),
        "subnet-id" => values.Contains(e.Subnet),
        "network-interface-id" => values.Contains(e.Id),
        _ when name.StartsWith("tag:", StringComparison.Ordinal) || name == "tag-key" => Tagged(e.Tags, name, values),
        _ => throw new InvalidOperationException("fake EC2: filter " + name + " not supported"),
    };

    private static bool SessionMatches(MirrorSession s, string name, List<string> values) => name switch
    {
        "network-interface-id" => values.Contains(s.Eni),
        "traffic-mirror-session-id" => values.Contains(s.Id),
        _ when name.StartsWith("tag:", StringComparison.Ordinal) || name == "tag-key" => Tagged(s.Tags, name, values),
        _ => throw new InvalidOperationException("fake EC2: filter " + name + " not supported"),
    };

    private static (int, string) Ok(string action, string body) =>
        (200, $"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{action}Response xmlns=\"{Ns}\"><requestId>{Guid.NewGuid()}</requestId>{body}</{action}Response>");

    private static (int, string) Error(int status, string code, string message) =>
        (status, $"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>{SecurityElement.Escape(message)}</Message></Error></Errors><RequestID>{Guid.NewGuid()}</RequestID></Response>");

    private sealed record Eni(string Id, string Vpc, string Subnet, Dictionary<string, string> Tags, string? Instance = null);

    public sealed record MirrorSession(string Id, string Eni, string Target, string Filter, int Number, int? Vni, int? PacketLength, IReadOnlyDictionary<string, string> Tags);
}
