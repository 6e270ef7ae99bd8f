using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace Fabric.Protocols.NodeStream;

/// <summary>
/// The TLS of a node-to-node stream: TLS 1.3 only, mutual, with this node's certificate; a peer is accepted only
/// when <see cref="Check"/> (the node's remoting TLS check: chain to <c>fabric.remote.tls.ca-file</c>, not revoked by
/// its <c>crl-file</c>) returns null. There is no plaintext mode.
/// </summary>
/// <param name="Certificate">This node's certificate with its private key.</param>
/// <param name="Check">The peer check: null to accept, else the reason it is refused (one line).</param>
public sealed record StreamTls(X509Certificate2 Certificate, Func<X509Certificate2, X509Chain?, string?> Check)
{
    /// <summary>SNI name the sender sends (host names are not checked: node certificates need not carry addresses).</summary>
    public const string ServerName = "fabric-stream";

    /// <summary>The sender's side; <paramref name="refused"/> gets the reason when the receiver's certificate is refused.</summary>
    public SslClientAuthenticationOptions ClientOptions(Action<X509Certificate2?, string> refused) => new()
    {
        TargetHost = ServerName,
        EnabledSslProtocols = SslProtocols.Tls13,
        ClientCertificateContext = SslStreamCertificateContext.Create(Certificate, null, offline: true),
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        RemoteCertificateValidationCallback = (_, certificate, chain, _) => Accept(certificate, chain, refused),
    };

    /// <summary>The receiver's side: a client certificate is required.</summary>
    public SslServerAuthenticationOptions ServerOptions(Action<X509Certificate2?, string> refused) => new()
    {
        EnabledSslProtocols = SslProtocols.Tls13,
        ServerCertificateContext = SslStreamCertificateContext.Create(Certificate, null, offline: true),
        ClientCertificateRequired = true,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        RemoteCertificateValidationCallback = (_, certificate, chain, _) => Accept(certificate, chain, refused),
    };

    private bool Accept(X509Certificate? certificate, X509Chain? chain, Action<X509Certificate2?, string> refused)
    {
        if (certificate is not X509Certificate2 peer)
        {
            refused(null, "the peer presented no certificate");
            return false;
        }

        if (Check(peer, chain) is { } reason)
        {
            refused(peer, reason);
            return false;
        }

        return true;
    }
}
