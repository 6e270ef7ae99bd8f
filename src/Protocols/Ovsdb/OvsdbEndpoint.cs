using System.Globalization;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;

namespace Fabric.Protocols.Ovsdb;

/// <summary>Transport of an OVSDB endpoint.</summary>
public enum OvsdbTransport
{
    Unix,
    Tcp,
    Ssl,
}

/// <summary>
/// The files an <c>ssl:</c> connection needs, as ovs-vsctl's <c>--private-key</c>,
/// <c>--certificate</c> and <c>--ca-cert</c> (PEM). The server's certificate must chain to the CA;
/// like Open vSwitch itself, the host name is not compared with the certificate.
/// </summary>
public sealed record OvsdbTlsFiles(string PrivateKey, string Certificate, string CaCertificate);

/// <summary>
/// An OVSDB server address in the syntax of ovs-vsctl's <c>--db</c>:
/// <c>unix:/var/run/openvswitch/db.sock</c>, <c>tcp:127.0.0.1:6640</c>, <c>tcp:[::1]:6640</c>,
/// <c>ssl:192.0.2.10:6640</c>.
/// </summary>
public sealed record OvsdbEndpoint(OvsdbTransport Transport, string Path, string Host, int Port)
{
    /// <summary>Parses an endpoint; returns false with a one-line reason when it is not one.</summary>
    public static bool TryParse(string? text, out OvsdbEndpoint? endpoint, out string error)
    {
        endpoint = null;
        error = "";
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "expected an OVSDB endpoint such as \"unix:/var/run/openvswitch/db.sock\" or \"tcp:127.0.0.1:6640\", got an empty value";
            return false;
        }

        if (text.StartsWith("unix:", StringComparison.Ordinal))
        {
            var path = text["unix:".Length..];
            if (path.Length == 0 || path[0] != '/')
            {
                error = $"expected an absolute socket path after \"unix:\", got \"{text}\"";
                return false;
            }

            endpoint = new OvsdbEndpoint(OvsdbTransport.Unix, path, "", 0);
            return true;
        }

        OvsdbTransport transport;
        string rest;
        if (text.StartsWith("tcp:", StringComparison.Ordinal))
        {
            transport = OvsdbTransport.Tcp;
            rest = text["tcp:".Length..];
        }
        else if (text.StartsWith("ssl:", StringComparison.Ordinal))
        {
            transport = OvsdbTransport.Ssl;
            rest = text["ssl:".Length..];
        }
        else
        {
            error = $"expected \"unix:PATH\", \"tcp:HOST:PORT\" or \"ssl:HOST:PORT\", got \"{text}\"";
            return false;
        }

        string host;
        string portText;
        if (rest.StartsWith('['))
        {
            var close = rest.IndexOf(']', StringComparison.Ordinal);
            if (close < 0 || close + 1 >= rest.Length || rest[close + 1] != ':')
            {
                error = $"expected \"[IPv6]:PORT\" after the transport, got \"{text}\"";
                return false;
            }

            host = rest[1..close];
            portText = rest[(close + 2)..];
        }
        else
        {
            var colon = rest.LastIndexOf(':');
            if (colon <= 0)
            {
                error = $"expected HOST:PORT after the transport, got \"{text}\"";
                return false;
            }

            host = rest[..colon];
            portText = rest[(colon + 1)..];
        }

        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            error = $"expected a port number 1-65535 in \"{text}\", got \"{portText}\"";
            return false;
        }

        endpoint = new OvsdbEndpoint(transport, "", host, port);
        return true;
    }

    /// <summary>Parses an endpoint or throws <see cref="FormatException"/> with the reason.</summary>
    public static OvsdbEndpoint Parse(string text) =>
        TryParse(text, out var endpoint, out var error) ? endpoint! : throw new FormatException(error);

    /// <summary>Client certificate, key and CA for <c>ssl:</c> (required there, unused otherwise).</summary>
    public OvsdbTlsFiles? Tls { get; init; }

    /// <summary>Opens a connected stream to the server.</summary>
    /// <exception cref="OvsdbConnectionException">Not reachable, TLS refused, or ssl: without <see cref="Tls"/>.</exception>
    public async Task<Stream> ConnectAsync(CancellationToken cancellationToken)
    {
        if (Transport == OvsdbTransport.Ssl)
        {
            return await ConnectTlsAsync(cancellationToken).ConfigureAwait(false);
        }

        Socket? socket = null;
        try
        {
            switch (Transport)
            {
                case OvsdbTransport.Unix:
                    socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(Path), cancellationToken).ConfigureAwait(false);
                    break;
                case OvsdbTransport.Tcp:
                    socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                    await socket.ConnectAsync(Host, Port, cancellationToken).ConfigureAwait(false);
                    break;
                default:
                    throw new OvsdbConnectionException($"{this}: unexpected transport");
            }

            var stream = new NetworkStream(socket, ownsSocket: true);
            socket = null;
            return stream;
        }
        catch (SocketException ex)
        {
            throw new OvsdbConnectionException($"{this}: {ex.Message}", ex);
        }
        finally
        {
            socket?.Dispose();
        }
    }

    private async Task<Stream> ConnectTlsAsync(CancellationToken cancellationToken)
    {
        if (Tls is null)
        {
            throw new OvsdbConnectionException($"{this}: an ssl: endpoint needs a private key, a certificate and a CA certificate");
        }

        X509Certificate2 client;
        X509Certificate2Collection ca;
        try
        {
            client = X509Certificate2.CreateFromPemFile(Tls.Certificate, Tls.PrivateKey);
            ca = [];
            ca.ImportFromPemFile(Tls.CaCertificate);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
        {
            throw new OvsdbConnectionException($"{this}: cannot read the TLS files: {ex.Message}", ex);
        }

        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(Host, Port, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            client.Dispose();
            throw new OvsdbConnectionException($"{this}: {ex.Message}", ex);
        }

        var tls = new SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false, (_, certificate, _, _) => ChainsTo(certificate, ca));
        try
        {
            await tls.AuthenticateAsClientAsync(
                new SslClientAuthenticationOptions { TargetHost = Host, ClientCertificates = [client] },
                cancellationToken).ConfigureAwait(false);
            return tls;
        }
        catch (Exception ex) when (ex is System.Security.Authentication.AuthenticationException or IOException)
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            throw new OvsdbConnectionException($"{this}: TLS handshake failed: {ex.Message}", ex);
        }
    }

    private static bool ChainsTo(X509Certificate? certificate, X509Certificate2Collection ca)
    {
        if (certificate is null)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var server = new X509Certificate2(certificate);
        return chain.Build(server);
    }

    public override string ToString() => Transport switch
    {
        OvsdbTransport.Unix => $"unix:{Path}",
        OvsdbTransport.Tcp => Host.Contains(':', StringComparison.Ordinal) ? $"tcp:[{Host}]:{Port}" : $"tcp:{Host}:{Port}",
        _ => Host.Contains(':', StringComparison.Ordinal) ? $"ssl:[{Host}]:{Port}" : $"ssl:{Host}:{Port}",
    };
}
