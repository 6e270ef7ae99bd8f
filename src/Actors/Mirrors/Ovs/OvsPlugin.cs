using System.Collections.Immutable;
using Akka.Actor;
using Fabric.Configuration;
using Fabric.Actors.Mirrors.Backends;
using Fabric.Protocols.Ovsdb;

namespace Fabric.Actors.Mirrors.Ovs;

/// <summary>
/// Backend <c>ovs</c>: Open vSwitch through OVSDB. Site keys <c>ovsdb</c> (default the local
/// socket) and <c>ssl { private-key, certificate, ca-cert }</c> for an <c>ssl:</c> endpoint;
/// sessions name their bridge; the agent is <see cref="OvsMirrorAgent"/>.
/// </summary>
public sealed class OvsPlugin : IMirrorBackendPlugin
{
    public MirrorBackendKind Kind => MirrorBackendKind.Ovs;

    public ImmutableArray<string> SiteKeys { get; } = ["ovsdb", "ssl"];

    public bool NeedsBridge => true;

    public string ForeignKeyProblem(string siteBackend) => "only for backend ovs";

    public MirrorBackendSiteSettings? ReadSite(ConfigReader site)
    {
        ArgumentNullException.ThrowIfNull(site);
        var text = site.GetOptionalString("ovsdb") ?? OvsdbSiteSettings.DefaultEndpoint;
        if (!OvsdbEndpoint.TryParse(text, out var endpoint, out var error))
        {
            throw site.Problem("ovsdb", error);
        }

        if (endpoint!.Transport == OvsdbTransport.Ssl)
        {
            var ssl = site.GetObject("ssl");
            ssl.RejectUnknownKeys("private-key", "certificate", "ca-cert");
            string File(string key)
            {
                var path = ssl.GetString(key, allowEmpty: false);
                return System.IO.File.Exists(path) ? path : throw ssl.Problem(key, $"no such file \"{path}\"");
            }

            endpoint = endpoint with { Tls = new OvsdbTlsFiles(File("private-key"), File("certificate"), File("ca-cert")) };
        }
        else if (site.Has("ssl"))
        {
            throw site.Problem("ssl", "only for an ssl: ovsdb endpoint");
        }

        return new OvsdbSiteSettings(endpoint);
    }

    public ImmutableSortedDictionary<string, string> Describe(MirrorSiteSettings site) =>
        ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, [KeyValuePair.Create("ovsdb", OvsdbSiteSettings.Of(site).ToString())]);

    public (string Key, string Problem)? Check(MirrorSessionSpec spec) => PortSessionChecks.Check(spec);

    public Props AgentProps(MirrorSiteSettings site, MirrorSettings settings, IActorRef reportTo, MirrorMetrics? metrics) =>
        OvsMirrorAgent.Props(site, settings, reportTo, metrics);
}
