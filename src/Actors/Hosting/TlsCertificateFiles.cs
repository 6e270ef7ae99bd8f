using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Fabric.Configuration;

namespace Fabric.Actors.Hosting;

/// <summary>
/// Loads a certificate with its private key, and CA certificates, from the files named in a TLS
/// section (<c>certificate-file</c>, <c>key-file</c>, <c>password-file</c>, <c>ca-file</c>). Every
/// problem is a <see cref="FabricConfigException"/> naming the key. Files holding a private key
/// or a password must not be readable or writable by others (<see cref="SecretFiles"/>).
/// </summary>
public static class TlsCertificateFiles
{
    /// <summary>
    /// The certificate of <c>certificate-file</c> with its private key: PEM (the key in
    /// <c>key-file</c>, or in the same file when <c>key-file</c> is empty) or PKCS#12/PFX (the key
    /// inside; <c>key-file</c> must be empty). <c>password-file</c> holds the PFX password or the
    /// password of an encrypted PEM key (PKCS#8).
    /// </summary>
    public static X509Certificate2 LoadWithKey(ConfigReader section)
    {
        ArgumentNullException.ThrowIfNull(section);
        var certificateFile = section.GetString("certificate-file", allowEmpty: false);
        var keyFile = section.GetString("key-file");
        var password = ReadPassword(section);
        var bytes = ReadAll(section, "certificate-file", certificateFile);

        X509Certificate2 certificate;
        if (!IsDer(bytes))
        {
            var keyKey = keyFile.Length > 0 ? "key-file" : "certificate-file";
            var keyPath = keyFile.Length > 0 ? keyFile : certificateFile;
            CheckPrivate(section, keyKey, keyPath);
            try
            {
                certificate = password is null
                    ? X509Certificate2.CreateFromPemFile(certificateFile, keyPath)
                    : X509Certificate2.CreateFromEncryptedPemFile(certificateFile, password, keyPath);
            }
            catch (Exception e) when (e is CryptographicException or ArgumentException)
            {
                throw section.Problem(keyKey, $"cannot load the certificate of \"{certificateFile}\" with the private key of \"{keyPath}\"{(password is null ? "" : " (with password-file)")}: {FabricConfig.OneLine(e.Message)}");
            }
        }
        else
        {
            if (keyFile.Length > 0)
            {
                throw section.Problem("key-file", $"must be empty: \"{certificateFile}\" is PKCS#12 (PFX), which holds the key itself");
            }

            CheckPrivate(section, "certificate-file", certificateFile);
            try
            {
                certificate = X509CertificateLoader.LoadPkcs12(bytes, password, X509KeyStorageFlags.EphemeralKeySet);
            }
            catch (CryptographicException e)
            {
                throw section.Problem("certificate-file", $"\"{certificateFile}\" is neither PEM nor a PKCS#12 (PFX) file this password-file opens: {FabricConfig.OneLine(e.Message)}");
            }
        }

        if (!certificate.HasPrivateKey)
        {
            certificate.Dispose();
            throw section.Problem("certificate-file", $"\"{certificateFile}\" has no private key");
        }

        var now = DateTime.Now;
        if (certificate.NotAfter < now || certificate.NotBefore > now)
        {
            var problem = $"the certificate {certificate.Subject} of \"{certificateFile}\" is valid only from {certificate.NotBefore.ToUniversalTime():u} to {certificate.NotAfter.ToUniversalTime():u}";
            certificate.Dispose();
            throw section.Problem("certificate-file", problem);
        }

        return certificate;
    }

    /// <summary>The CA certificates (PEM, one or more) of <c>ca-file</c>; at least one.</summary>
    public static X509Certificate2Collection LoadAuthorities(ConfigReader section)
    {
        ArgumentNullException.ThrowIfNull(section);
        var caFile = section.GetString("ca-file", allowEmpty: false);
        ReadAll(section, "ca-file", caFile);
        var authorities = new X509Certificate2Collection();
        try
        {
            authorities.ImportFromPemFile(caFile);
        }
        catch (CryptographicException e)
        {
            throw section.Problem("ca-file", $"\"{caFile}\" is not a PEM file of certificates: {FabricConfig.OneLine(e.Message)}");
        }

        if (authorities.Count == 0)
        {
            throw section.Problem("ca-file", $"\"{caFile}\" holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
        }

        return authorities;
    }

    private static string? ReadPassword(ConfigReader section)
    {
        var passwordFile = section.GetString("password-file");
        if (passwordFile.Length == 0)
        {
            return null;
        }

        var bytes = ReadAll(section, "password-file", passwordFile);
        CheckPrivate(section, "password-file", passwordFile);
        // The whole file without its line end: passwords may contain spaces.
        return global::System.Text.Encoding.UTF8.GetString(bytes).TrimEnd('\r', '\n');
    }

    private static void CheckPrivate(ConfigReader section, string key, string path)
    {
        if (SecretFiles.Problem(path) is { } problem)
        {
            throw section.Problem(key, problem);
        }
    }

    private static byte[] ReadAll(ConfigReader section, string key, string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw section.Problem(key, $"cannot read \"{path}\": {FabricConfig.OneLine(e.Message)}");
        }
    }

    /// <summary>PKCS#12 is DER (a SEQUENCE, 0x30); PEM is text (possibly with "Bag Attributes" lines before the blocks).</summary>
    private static bool IsDer(byte[] bytes) => bytes.Length > 0 && bytes[0] == 0x30;
}
