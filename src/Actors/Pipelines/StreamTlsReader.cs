using Akka.Configuration;
using Fabric.Configuration;
using Fabric.Actors.Hosting;
using Fabric.Protocols.NodeStream;
using Fabric.Protocols.Tls;

namespace Fabric.Actors.Pipelines;

/// <summary>
/// The TLS of stream sinks and sources: the node's own <c>fabric.remote.tls</c> (certificate, <c>ca-file</c>,
/// <c>crl-file</c>), checked the way remoting checks a peer (<see cref="CustomRootChain"/>, the CRLs). There is no
/// second configuration and no plaintext mode: a stream without <c>fabric.remote.tls.enabled = true</c> is refused.
/// </summary>
internal static class StreamTlsReader
{
    /// <summary>Loads the files once per configuration read; <paramref name="user"/> names the key that needs it.</summary>
    public static StreamTls Read(Config config, ConfigReader user, string key)
    {
        var fabric = ConfigReader.At(config, "fabric");
        RemoteTlsSettings? tls = RemoteTlsSettings.Read(fabric);
        if (tls is null)
        {
            throw user.Problem(key, "a stream is TLS 1.3 only, with the node's remoting certificates: set fabric.remote.tls.enabled = true (with certificate-file and ca-file)");
        }

        var authorities = tls.Authorities;
        var crl = tls.Crl;
        string caFile = tls.CaFile;
        return new StreamTls(tls.Certificate, (certificate, presented) =>
        {
            using var chain = CustomRootChain.For(certificate, presented, authorities);
            if (!chain.Build(certificate))
            {
                var reasons = string.Join(", ", chain.ChainStatus.Select(s => s.Status.ToString()).Distinct());
                return $"certificate \"{certificate.Subject}\" issued by \"{certificate.Issuer}\" (SHA-1 {certificate.Thumbprint}) does not chain to fabric.remote.tls.ca-file \"{caFile}\" ({reasons})";
            }

            if (crl is not null)
            {
                foreach (var element in chain.ChainElements)
                {
                    if (crl.Revoking(element.Certificate) is { } list)
                    {
                        return $"certificate \"{element.Certificate.Subject}\" (serial {element.Certificate.SerialNumber}) is revoked by fabric.remote.tls.crl-file \"{crl.Path}\" (CRL of \"{list.Issuer}\")";
                    }
                }
            }

            return null;
        });
    }
}
