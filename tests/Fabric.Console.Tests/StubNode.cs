using System.Net;
using System.Text;

namespace Fabric.Console.Tests;

/// <summary>
/// A fake management endpoint on a loopback port (HttpListener), for the console's own rendering,
/// error and token handling. The console against real nodes is tested in Fabric.System.Tests.
/// </summary>
internal sealed class StubNode : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Task _loop;
    private readonly Func<HttpListenerRequest, (int Status, string Body)> _answer;

    public StubNode(Func<HttpListenerRequest, (int Status, string Body)> answer)
    {
        _answer = answer;
        Port = FreePort();
        Url = $"http://127.0.0.1:{Port}/";
        _listener.Prefixes.Add(Url);
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    public int Port { get; }

    public string Url { get; }

    public List<(string Method, string Path, string? Authorization, string Body)> Requests { get; } = [];

    public static int FreePort() => Ports.Free();

    public void Dispose()
    {
        // Close() only. The managed HttpListener's Stop() removes its prefixes, and a Close() after it
        // removes them again by binding the port once more: if another test took the port in between,
        // that bind throws "Address already in use" out of Dispose (a CI failure on 2026-12-08).
        _listener.Close();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
            // The loop ends with the listener's ObjectDisposed/HttpListener exception.
        }
    }

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext ctx;
            try
            {
                ctx = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            using var reader = new StreamReader(ctx.Request.InputStream, Encoding.UTF8);
            var body = await reader.ReadToEndAsync();
            lock (Requests)
            {
                Requests.Add((ctx.Request.HttpMethod, ctx.Request.Url!.AbsolutePath, ctx.Request.Headers["Authorization"], body));
            }

            var (status, text) = _answer(ctx.Request);
            var bytes = Encoding.UTF8.GetBytes(text);
            ctx.Response.StatusCode = status;
            ctx.Response.ContentType = "application/json";
            await ctx.Response.OutputStream.WriteAsync(bytes);
            ctx.Response.Close();
        }
    }
}
