using System.Security.Cryptography.X509Certificates;

namespace Fabric.Protocols.Tls;

/// <summary>
/// The one chain check Fabric makes of a peer's certificate, for remoting TLS and for the console's
/// <c>--ca-file</c>: the chain must end at one of the given CAs (custom root trust: the system store plays no
/// part), with no online revocation lookup and no certificate downloads. Certificates the peer sent besides its
/// own are usable links, never anchors.
/// </summary>
public static class CustomRootChain
{
    /// <summary>A chain policy for <paramref name="certificate"/> over <paramref name="authorities"/>, ready to
    /// <see cref="X509Chain.Build"/>; the caller disposes it.</summary>
    public static X509Chain For(X509Certificate2 certificate, X509Chain? presented, X509Certificate2Collection authorities)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        ArgumentNullException.ThrowIfNull(authorities);
        var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        if (presented is not null)
        {
            foreach (var element in presented.ChainElements)
            {
                if (!element.Certificate.RawDataMemory.Span.SequenceEqual(certificate.RawDataMemory.Span))
                {
                    chain.ChainPolicy.ExtraStore.Add(element.Certificate);
                }
            }
        }

        return chain;
    }
}
