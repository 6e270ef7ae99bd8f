using System.Collections.Concurrent;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Configuration;
using Akka.Event;
using Akka.Remote.Transport.DotNetty;
using Fabric.Configuration;
using Fabric.Actors.Metrics;
using Fabric.Protocols.Tls;

namespace Fabric.Actors.Hosting;

/// <summary>
/// <c>fabric.remote.tls</c>: Akka remoting (DotNetty) over mutual TLS. Both sides of every
/// association present their certificate and accept the other's only if it chains to a CA of
/// <c>ca-file</c> (not the system trust store): a node whose certificate comes from another CA,
/// or is self-signed, cannot associate, so it can never join. Host names are not checked (node
/// certificates need not carry the nodes' addresses).
/// </summary>
public sealed class RemoteTlsSettings
{
    private RemoteTlsSettings(X509Certificate2 certificate, X509Certificate2Collection authorities, string caFile, CrlFile? crl)
    {
        Certificate = certificate;
        Authorities = authorities;
        CaFile = caFile;
        Crl = crl;
    }

    /// <summary>This node's certificate, with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The CAs a peer's certificate must chain to.</summary>
    public X509Certificate2Collection Authorities { get; }

    public string CaFile { get; }

    /// <summary><c>crl-file</c>: revoked certificates; null when none is configured.</summary>
    public CrlFile? Crl { get; }

    /// <summary>Null when <c>fabric.remote.tls.enabled = false</c>; otherwise the loaded, checked files.</summary>
    public static RemoteTlsSettings? Read(ConfigReader fabric)
    {
        ArgumentNullException.ThrowIfNull(fabric);
        var tls = fabric.GetObject("remote").GetObject("tls");
        if (!tls.GetBool("enabled"))
        {
            return null;
        }

        var authorities = TlsCertificateFiles.LoadAuthorities(tls);
        var certificate = TlsCertificateFiles.LoadWithKey(tls);
        CrlFile? crl = null;
        var crlFile = tls.GetString("crl-file");
        if (crlFile.Length > 0)
        {
            try
            {
                crl = CrlFile.Load(crlFile, authorities);
            }
            catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or IOException or UnauthorizedAccessException or FormatException)
            {
                certificate.Dispose();
                throw tls.Problem("crl-file", $"cannot use \"{crlFile}\": {FabricConfig.OneLine(e.Message)}");
            }

            if (crl.Current().FirstOrDefault(l => l.Revokes(certificate)) is { } revoking)
            {
                var subject = certificate.Subject;
                certificate.Dispose();
                throw tls.Problem("crl-file", $"\"{crlFile}\" revokes this node's own certificate \"{subject}\" (CRL of \"{revoking.Issuer}\")");
            }
        }

        return new RemoteTlsSettings(certificate, authorities, tls.GetString("ca-file"), crl);
    }

    /// <summary>The HOCON that turns DotNetty's TLS on (the certificate and validator come from <see cref="ToSetup"/>).</summary>
    public static string AkkaHocon => """
        akka.remote.dot-netty.tcp {
          enable-ssl = true
          ssl {
            suppress-validation = false
            require-mutual-authentication = true
            validate-certificate-hostname = false
          }
        }
        """;

    /// <summary>
    /// The ActorSystem setup: <paramref name="config"/>, DotNetty's TLS (this certificate, mutual
    /// authentication, <paramref name="validator"/>) and the <see cref="RefusedPeerLogFilter"/>.
    /// </summary>
    public ActorSystemSetup ToSetup(Config config, PeerCertificateValidator validator)
    {
        ArgumentNullException.ThrowIfNull(validator);
        var tls = new DotNettySslSetup(Certificate, suppressValidation: false, requireMutualAuthentication: true, validateCertificateHostname: false, validator.Validate);
        return BootstrapSetup.Create().WithConfig(config).And(tls).And(new LogFilterBuilder().Add(new RefusedPeerLogFilter(validator)).Build());
    }
}

/// <summary>
/// Accepts a peer certificate only when it chains to one of the configured CAs (custom root
/// trust: the system store plays no part; no online revocation lookup, no downloads) and, with
/// <c>crl-file</c>, no certificate of its chain is revoked by those CRLs. Runs on both
/// sides of a handshake. The first refusal of each certificate is logged once as a warning;
/// repeats (Akka retries the association every few seconds) are only counted.
/// </summary>
public sealed class PeerCertificateValidator : IMetricsSource
{
    private const int MaxRemembered = 1024;
    private const int RecentPeers = 64;
    private readonly X509Certificate2Collection _authorities;
    private readonly ConcurrentQueue<string> _recentPeers = new();
    private readonly string _caFile;
    private readonly CrlFile? _crl;
    private readonly ConcurrentDictionary<string, byte> _logged = new(StringComparer.Ordinal);
    private long _refused;

    public PeerCertificateValidator(X509Certificate2Collection authorities, string caFile, CrlFile? crl = null)
    {
        ArgumentNullException.ThrowIfNull(authorities);
        _authorities = authorities;
        _caFile = caFile;
        _crl = crl;
    }

    /// <summary>Handshakes refused because of the peer's certificate.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>A <see cref="CertificateValidationCallback"/>: true to accept <paramref name="certificate"/>.</summary>
    public bool Validate(X509Certificate2? certificate, X509Chain? chain, string remotePeer, SslPolicyErrors errors, ILoggingAdapter log)
    {
        if (certificate is null)
        {
            Refuse(log, "(none)", remotePeer, "the peer presented no certificate");
            return false;
        }

        using var own = CustomRootChain.For(certificate, chain, _authorities);
        if (own.Build(certificate))
        {
            if (_crl is not null)
            {
                foreach (var element in own.ChainElements)
                {
                    if (_crl.Revoking(element.Certificate, log) is { } list)
                    {
                        var which = element.Certificate.RawDataMemory.Span.SequenceEqual(certificate.RawDataMemory.Span) ? "certificate" : $"certificate's issuer \"{element.Certificate.Subject}\"";
                        Refuse(log, certificate.Thumbprint, remotePeer, $"the {which} of \"{certificate.Subject}\" (serial {element.Certificate.SerialNumber}) is revoked by fabric.remote.tls.crl-file \"{_crl.Path}\" (CRL of \"{list.Issuer}\")");
                        return false;
                    }
                }
            }

            return true;
        }

        var reasons = string.Join(", ", own.ChainStatus.Select(s => s.Status.ToString()).Distinct());
        Refuse(log, certificate.Thumbprint, remotePeer, $"certificate \"{certificate.Subject}\" issued by \"{certificate.Issuer}\" (SHA-1 {certificate.Thumbprint}) does not chain to fabric.remote.tls.ca-file \"{_caFile}\" ({reasons})");
        return false;
    }

    public void Write(PrometheusTextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Family("fabric_remote_tls_refused_total", MetricType.Counter, "Remoting TLS handshakes refused because the peer's certificate does not chain to fabric.remote.tls.ca-file or is revoked by its crl-file.");
        writer.Sample("fabric_remote_tls_refused_total", Refused);
    }

    /// <summary>
    /// True when <paramref name="message"/> names one of the last peers this validator refused as
    /// DotNetty writes a channel's remote end: <c>[address]:port</c> followed by <c>]</c> (so that
    /// <c>[::1]:4</c> does not match <c>[::1]:4053</c>).
    /// </summary>
    public bool MentionsRefusedPeer(string message)
    {
        ArgumentNullException.ThrowIfNull(message);
        foreach (var peer in _recentPeers)
        {
            var at = message.IndexOf(peer, StringComparison.Ordinal);
            while (at >= 0 && at + peer.Length < message.Length && message[at + peer.Length] != ']')
            {
                at = message.IndexOf(peer, at + 1, StringComparison.Ordinal);
            }

            if (at >= 0 && at + peer.Length < message.Length)
            {
                return true;
            }
        }

        return false;
    }

    private void Refuse(ILoggingAdapter log, string thumbprint, string remotePeer, string why)
    {
        Interlocked.Increment(ref _refused);
        _recentPeers.Enqueue(remotePeer);
        while (_recentPeers.Count > RecentPeers && _recentPeers.TryDequeue(out _))
        {
        }

        if (_logged.Count < MaxRemembered && _logged.TryAdd(thumbprint, 0))
        {
            log.Warning("Refused remoting TLS peer {0}: {1}; further refusals of this certificate are counted in fabric_remote_tls_refused_total, not logged", remotePeer, why);
        }
    }
}

/// <summary>
/// Drops DotNetty's own multi-line "TLS handshake failed" error and "Rejected incoming connection"
/// warning for a connection whose certificate <see cref="PeerCertificateValidator"/> refused (it
/// logged that certificate once, with the reason, and counts every refusal), so a peer that keeps
/// retrying does not flood the log. TLS failures for any other reason are kept.
/// </summary>
public sealed class RefusedPeerLogFilter(PeerCertificateValidator validator) : LogFilterBase
{
    public override LogFilterType FilterType => LogFilterType.Content;

    public override LogFilterDecision ShouldKeepMessage(LogEvent content, string? expandedMessage = null)
    {
        if (expandedMessage is null)
        {
            return LogFilterDecision.NoDecision;
        }

        return expandedMessage.Contains("TLS handshake fail", StringComparison.Ordinal) && validator.MentionsRefusedPeer(expandedMessage)
            ? LogFilterDecision.Drop
            : LogFilterDecision.Keep;
    }
}
