using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Fabric.Actors.Tests.Hosting;

/// <summary>CAs and node certificates made in memory (System.Security.Cryptography), with their private keys.</summary>
internal static class InMemoryCertificates
{
    /// <summary>A self-signed CA that may sign certificates and CRLs (ECDSA P-256, or RSA 2048).</summary>
    public static X509Certificate2 Authority(string name, bool rsa = false)
    {
        using AsymmetricAlgorithm key = rsa ? RSA.Create(2048) : ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = key is RSA r
            ? new CertificateRequest($"CN={name}", r, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            : new CertificateRequest($"CN={name}", (ECDsa)key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-60), DateTimeOffset.UtcNow.AddYears(1));
    }

    /// <summary>A node certificate (server and client authentication) signed by <paramref name="ca"/>.</summary>
    public static X509Certificate2 Issue(X509Certificate2 ca, string name, DateTimeOffset from, DateTimeOffset to)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        using var rsa = ca.GetRSAPrivateKey();
        using var ecdsa = rsa is null ? ca.GetECDsaPrivateKey() : null;
        var generator = rsa is not null ? X509SignatureGenerator.CreateForRSA(rsa, RSASignaturePadding.Pkcs1) : X509SignatureGenerator.CreateForECDsa(ecdsa!);
        using var issued = request.Create(ca.SubjectName, generator, from, to, RandomNumberGenerator.GetBytes(8));
        return issued.CopyWithPrivateKey(key);
    }

    public static X509Certificate2 Issue(X509Certificate2 ca, string name) =>
        Issue(ca, name, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));

    /// <summary>A DER CRL of <paramref name="ca"/> revoking <paramref name="revoked"/>.</summary>
    public static byte[] Crl(X509Certificate2 ca, DateTimeOffset nextUpdate, params X509Certificate2[] revoked)
    {
        var builder = new CertificateRevocationListBuilder();
        foreach (var certificate in revoked)
        {
            builder.AddEntry(certificate, DateTimeOffset.UtcNow.AddMinutes(-1), X509RevocationReason.KeyCompromise);
        }

        var thisUpdate = nextUpdate < DateTimeOffset.UtcNow ? nextUpdate.AddDays(-7) : DateTimeOffset.UtcNow;
        return builder.Build(ca, 1, nextUpdate, HashAlgorithmName.SHA256, ca.GetRSAPrivateKey() is null ? null : RSASignaturePadding.Pkcs1, thisUpdate);
    }

    public static byte[] Crl(X509Certificate2 ca, params X509Certificate2[] revoked) => Crl(ca, DateTimeOffset.UtcNow.AddDays(7), revoked);

    public static string Pem(byte[] crl) => PemEncoding.WriteString("X509 CRL", crl) + "\n";
}
