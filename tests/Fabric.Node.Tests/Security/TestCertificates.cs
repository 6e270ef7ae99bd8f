using System.Diagnostics;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Fabric.Node.Tests.Security;

/// <summary>
/// Certificates made with openssl in a temporary directory, by the same commands
/// docs/operator-guide.md ("TLS") gives operators: a CA, node certificates it signs (serverAuth
/// and clientAuth, SAN IP 127.0.0.1), and a self-signed certificate. Keys are mode 0600.
/// Dispose deletes the directory.
/// </summary>
public sealed class TestCertificates : IDisposable
{
    public TestCertificates()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("fpt-certs-").FullName;
    }

    public string Directory { get; }

    /// <summary>Makes a CA: <c>NAME.crt</c> and <c>NAME.key</c>; returns the certificate's path.</summary>
    public string CreateAuthority(string name)
    {
        OpenSsl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", Path(name + ".key"), "-out", Path(name + ".crt"), "-days", "3650", "-subj", $"/CN={name}");
        return Path(name + ".crt");
    }

    /// <summary>A node certificate <c>NAME.crt</c> with key <c>NAME.key</c>, signed by <paramref name="authority"/>.</summary>
    public (string Certificate, string Key) CreateNode(string name, string authority)
    {
        OpenSsl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", Path(name + ".key"), "-out", Path(name + ".csr"), "-subj", $"/CN={name}");
        File.WriteAllText(Path(name + ".ext"),
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n");
        OpenSsl("x509", "-req", "-in", Path(name + ".csr"), "-CA", Path(authority + ".crt"), "-CAkey", Path(authority + ".key"),
            "-CAcreateserial", "-out", Path(name + ".crt"), "-days", "825", "-extfile", Path(name + ".ext"));
        return (Path(name + ".crt"), Path(name + ".key"));
    }

    /// <summary>A self-signed certificate <c>NAME.crt</c> with key <c>NAME.key</c> (its own CA).</summary>
    public (string Certificate, string Key) CreateSelfSigned(string name)
    {
        File.WriteAllText(Path(name + ".ext"),
            "[v3]\nbasicConstraints=critical,CA:TRUE\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n");
        OpenSsl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", Path(name + ".key"), "-out", Path(name + ".crt"), "-days", "825", "-subj", $"/CN={name}",
            "-config", Path(name + ".ext"), "-extensions", "v3", "-section", "v3");
        return (Path(name + ".crt"), Path(name + ".key"));
    }

    /// <summary>
    /// The CRL <c>NAME.crl</c> (PEM) of <paramref name="authority"/>, made with <c>openssl ca -revoke</c> and
    /// <c>openssl ca -gencrl</c> (as docs/operator-guide.md tells operators), after revoking
    /// <paramref name="revoke"/>; its database keeps earlier revocations. Returns the CRL's path, the same each time.
    /// </summary>
    public string CreateCrl(string authority, params string[] revoke)
    {
        var config = Path(authority + ".ca.cnf");
        if (!File.Exists(config))
        {
            File.WriteAllText(Path(authority + ".index.txt"), "");
            File.WriteAllText(Path(authority + ".crlnumber"), "01\n");
            File.WriteAllText(config, $"[ca]\ndefault_ca = d\n[d]\ndatabase = {Path(authority + ".index.txt")}\ncrlnumber = {Path(authority + ".crlnumber")}\ndefault_md = sha256\ndefault_crl_days = 30\n");
        }

        var ca = new[] { "-config", config, "-keyfile", Path(authority + ".key"), "-cert", Path(authority + ".crt") };
        foreach (var certificate in revoke)
        {
            OpenSsl([.. ca.Prepend("ca"), "-revoke", certificate]);
        }

        // Written next to the CRL in force and renamed over it, as an operator's script should: a node never
        // reads half a file.
        OpenSsl([.. ca.Prepend("ca"), "-gencrl", "-out", Path(authority + ".crl.new")]);
        File.Move(Path(authority + ".crl.new"), Path(authority + ".crl"), overwrite: true);
        return Path(authority + ".crl");
    }

    /// <summary>A PKCS#12 bundle of <paramref name="certificate"/> and <paramref name="key"/> with a password in a 0600 file.</summary>
    public (string Pfx, string PasswordFile) CreatePfx(string name, string certificate, string key, string password)
    {
        var passwordFile = Path(name + ".pass");
        File.WriteAllText(passwordFile, password + "\n");
        File.SetUnixFileMode(passwordFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        OpenSsl("pkcs12", "-export", "-in", certificate, "-inkey", key, "-out", Path(name + ".pfx"), "-passout", "file:" + passwordFile);
        File.SetUnixFileMode(Path(name + ".pfx"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return (Path(name + ".pfx"), passwordFile);
    }

    /// <summary>An HTTP client that trusts exactly the CA in <paramref name="caFile"/> (host name checked too).</summary>
    public static HttpClient HttpsClient(string caFile)
    {
        var authorities = new X509Certificate2Collection();
        authorities.ImportFromPemFile(caFile);
        var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, certificate, _, errors) =>
            {
                if (certificate is null || (errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
                {
                    return false;
                }

                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return chain.Build(certificate);
            },
        };
        return new HttpClient(handler, disposeHandler: true) { Timeout = TimeSpan.FromSeconds(5) };
    }

    public string Path(string file) => System.IO.Path.Combine(Directory, file);

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A file still open by an exiting node: the OS temp cleaner removes it.
        }
    }

    private void OpenSsl(params string[] args)
    {
        var info = new ProcessStartInfo("openssl")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Directory,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"openssl {string.Join(' ', args)} exited {process.ExitCode}: {stderr} {stdout.Result}");
        }

        // openssl writes keys 0600 already (umask permitting); make sure, as the docs say to.
        foreach (var key in System.IO.Directory.GetFiles(Directory, "*.key"))
        {
            File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }
}
