using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Fabric.System.Tests.Reliability;

/// <summary>
/// Sockets inside a network namespace, from this (root-namespace) test process: one dedicated
/// thread enters the namespace with <c>setns(2)</c> (a thread's network namespace is its own) and
/// creates sockets there; a socket stays in the namespace it was created in, whatever thread uses
/// it afterwards. So the test reaches a node's management HTTP from inside that node's namespace
/// (also while the node is cut off), and sends traffic inside it, without a process per request.
/// </summary>
public sealed partial class NamespaceSockets : IDisposable
{
    private const int CloneNewNet = 0x40000000;
    private readonly BlockingCollection<Action> _work = [];
    private readonly Thread _thread;

    public NamespaceSockets(string name)
    {
        Name = name;
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _thread = new Thread(() =>
        {
            try
            {
                using var handle = File.OpenHandle("/var/run/netns/" + name);
                if (setns((int)handle.DangerousGetHandle(), CloneNewNet) != 0)
                {
                    throw new InvalidOperationException($"setns into network namespace {name}: errno {Marshal.GetLastPInvokeError()}");
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException)
            {
                entered.SetException(e);
                return;
            }

            entered.SetResult();
            foreach (var work in _work.GetConsumingEnumerable())
            {
                work();
            }
        })
        {
            IsBackground = true,
            Name = "netns " + name,
        };
        _thread.Start();
        entered.Task.GetAwaiter().GetResult();
    }

    public string Name { get; }

    /// <summary>A new socket in the namespace.</summary>
    public Socket Create(SocketType type, ProtocolType protocol)
    {
        var created = new TaskCompletionSource<Socket>(TaskCreationOptions.RunContinuationsAsynchronously);
        _work.Add(() =>
        {
            try
            {
                created.SetResult(new Socket(AddressFamily.InterNetwork, type, protocol));
            }
            catch (SocketException e)
            {
                created.SetException(e);
            }
        });
        return created.Task.GetAwaiter().GetResult();
    }

    /// <summary>An HTTP client whose connections are made from inside the namespace.</summary>
    public HttpClient Http(Uri baseAddress, TimeSpan timeout)
    {
        var handler = new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromSeconds(30),
            ConnectTimeout = timeout,
            ConnectCallback = async (context, cancellation) =>
            {
                var socket = Create(SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    socket.NoDelay = true;
                    await socket.ConnectAsync(context.DnsEndPoint, cancellation).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        return new HttpClient(handler) { BaseAddress = baseAddress, Timeout = timeout };
    }

    public void Dispose()
    {
        _work.CompleteAdding();
        _thread.Join();
        _work.Dispose();
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setns(int fd, int nstype);
}
