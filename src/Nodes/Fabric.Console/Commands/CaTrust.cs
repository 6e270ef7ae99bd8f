using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Fabric.Console.Commands;

/// <summary>
/// The CA an https node's certificate must chain to (--ca-file or FABRIC_CA_FILE). With it, only
/// that CA is trusted (not the system store) and the host name must still match the certificate;
/// without it, the system trust store decides. Validation is never switched off.
/// </summary>
internal sealed class CaTrust
{
    private readonly X509Certificate2Collection _authorities;

    private CaTrust(X509Certificate2Collection authorities, string file)
    {
        _authorities = authorities;
        File = file;
    }

    /// <summary>The CA file, for error messages.</summary>
    public string File { get; }

    /// <summary>Null without a file; otherwise its certificates (at least one).</summary>
    public static CaTrust? Read(FileInfo? file)
    {
        if (file is null)
        {
            return null;
        }

        if (!file.Exists)
        {
            throw new ConsoleException($"--ca-file: {file.FullName}: no such file", ExitCodes.Usage);
        }

        var authorities = new X509Certificate2Collection();
        try
        {
            authorities.ImportFromPemFile(file.FullName);
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw new ConsoleException($"--ca-file: {file.FullName}: not a PEM certificate file ({e.Message.TrimEnd('.')})", ExitCodes.Usage, e);
        }

        if (authorities.Count == 0)
        {
            throw new ConsoleException($"--ca-file: {file.FullName} holds no PEM certificate", ExitCodes.Usage);
        }

        return new CaTrust(authorities, file.FullName);
    }

    /// <summary>The HttpClient server-certificate check: the host name matches and the chain ends at one of these CAs.</summary>
    public bool Validate(X509Certificate2? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null || (errors & (SslPolicyErrors.RemoteCertificateNotAvailable | SslPolicyErrors.RemoteCertificateNameMismatch)) != 0)
        {
            return false;
        }

        using var own = Fabric.Protocols.Tls.CustomRootChain.For(certificate, chain, _authorities);
        return own.Build(certificate);
    }
}
