using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace Fabric.Actors.Tests.Mirrors.Fakes;

/// <summary>
/// Kestrel on 127.0.0.1 (a port the OS picks) with a fresh self-signed certificate, serving one
/// request handler. Base for the in-process fakes of backend APIs; clients pin
/// <see cref="Fingerprint"/>. Not a real router, cloud or hypervisor.
/// </summary>
public sealed class FakeHttpsServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakeHttpsServer(WebApplication app, X509Certificate2 certificate, bool https)
    {
        _app = app;
        Certificate = certificate;
        Fingerprint = Convert.ToHexString(SHA256.HashData(certificate.RawData));
        var addresses = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses;
        var port = new Uri(addresses.First()).Port;
        Url = new Uri($"{(https ? "https" : "http")}://127.0.0.1:{port}/");
    }

    public Uri Url { get; }

    public X509Certificate2 Certificate { get; }

    /// <summary>SHA-256 of the server certificate, hex.</summary>
    public string Fingerprint { get; }

    public static async Task<FakeHttpsServer> StartAsync(RequestDelegate handler, bool https = true)
    {
        var certificate = SelfSigned();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l =>
        {
            l.Protocols = HttpProtocols.Http1;
            if (https)
            {
                l.UseHttps(certificate);
            }
        }));
        var app = builder.Build();
        app.Run(handler);
        await app.StartAsync().ConfigureAwait(false);
        return new FakeHttpsServer(app, certificate, https);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        Certificate.Dispose();
    }

    private static X509Certificate2 SelfSigned()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=fake-api.test", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using var ephemeral = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(ephemeral.Export(X509ContentType.Pfx), null);
    }
}
