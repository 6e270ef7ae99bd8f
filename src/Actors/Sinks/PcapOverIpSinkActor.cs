using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Akka.Actor;
using Akka.Event;
using Fabric.Actors.DataPlane;
using Fabric.Protocols.Pcap;

namespace Fabric.Actors.Sinks;

/// <summary>
/// Serves the pipeline's inner frames as a classic pcap stream (microsecond timestamps, link type Ethernet) to
/// every connected client. Each batch is written once into a pooled chunk of pcap records that all clients share
/// (reference-counted); each client has its own sender task and queue of chunks. A client whose queue passes
/// <see cref="PcapOverIpSinkSettings.ClientBufferBytes"/> (it stopped reading, or reads slower than capture) is
/// disconnected and counted as <c>slow-client</c> (so one client holds at most that plus one batch); the actor never
/// waits for a client. Frames that reach no client
/// (none connected) are dropped as <c>no-client</c>. Its <see cref="SinkHealth"/> is up while a client is connected.
/// </summary>
public sealed class PcapOverIpSinkActor : BatchStageActor
{
    /// <summary><c>queue-full</c>, <c>no-client</c> (frames while no client was connected).</summary>
    public static readonly IReadOnlyList<string> DropReasons = ["queue-full", "no-client"];

    /// <summary>Clients accepted, disconnected as too slow, gone by themselves, refused (too many, wrong token).</summary>
    public static readonly IReadOnlyList<string> EventNames = ["client-connected", "slow-client", "client-closed", "client-refused"];

    private const uint LinkTypeEthernet = 1;
    private const int MaxTokenLine = 512;
    private readonly PcapOverIpSinkSettings _settings;
    private readonly SinkHealth _health;
    private readonly List<Client> _clients = [];
    private readonly int _noClient;
    private readonly int _connected;
    private readonly int _slow;
    private readonly int _closed;
    private readonly int _refused;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly CancellationTokenSource _stopping = new();
    private TcpListener? _listener;

    public PcapOverIpSinkActor(PcapOverIpSinkSettings settings, BatchQueue queue, StageCounters counters, SinkHealth? health = null)
        : base(queue, counters, settings.Cpu, nice: settings.Nice)
    {
        _settings = settings;
        _health = health ?? new SinkHealth();
        _noClient = counters.ReasonIndex("no-client");
        _connected = counters.EventIndex("client-connected");
        _slow = counters.EventIndex("slow-client");
        _closed = counters.EventIndex("client-closed");
        _refused = counters.EventIndex("client-refused");
        _health.Set(false);
    }

    public static Props Props(PcapOverIpSinkSettings settings, BatchQueue queue, StageCounters counters, SinkHealth? health = null) =>
        Akka.Actor.Props.Create(() => new PcapOverIpSinkActor(settings, queue, counters, health));

    /// <summary>The classic pcap file header every client gets first (microseconds, Ethernet, snap length 262144).</summary>
    public static byte[] FileHeader()
    {
        var header = new byte[PcapWriter.FileHeaderLength];
        PcapWriter.WriteFileHeader(header, LinkTypeEthernet, PcapWriter.DefaultSnapLength, nanoseconds: false);
        return header;
    }

    protected override void PreStart()
    {
        base.PreStart();
        var listener = new TcpListener(_settings.Listen);
        try
        {
            listener.Start(16);
        }
        catch (SocketException e)
        {
            throw new InvalidOperationException($"pcap-over-ip sink {_settings.Stage}: cannot listen on {_settings.Listen}: {e.Message}", e);
        }

        _listener = listener;
        _log.Info("pcap-over-ip sink {0} listening on {1}{2}", _settings.Stage, listener.LocalEndpoint, _settings.Token is null ? "" : " (token required)");
        var self = Self;
        _ = AcceptLoop(listener, self, _stopping.Token);
    }

    protected override void PostStop()
    {
        _stopping.Cancel();
        _listener?.Stop();
        foreach (var client in _clients)
        {
            client.Close();
        }

        _clients.Clear();
        _health.Set(false);
        _stopping.Dispose();
    }

    protected override void OnControl(object message)
    {
        switch (message)
        {
            case Accepted accepted:
                if (_clients.Count >= _settings.MaxClients)
                {
                    Counters.AddEvent(_refused, 1);
                    _log.Warning("pcap-over-ip sink {0}: refused {1}: already {2} clients", _settings.Stage, accepted.Remote, _clients.Count);
                    accepted.Socket.Dispose();
                    break;
                }

                var client = new Client(accepted.Socket, accepted.Remote, Self);
                client.Enqueue(Chunk.Of(FileHeader()));
                _clients.Add(client);
                Counters.AddEvent(_connected, 1);
                _health.Set(true);
                _log.Info("pcap-over-ip sink {0}: client {1} connected", _settings.Stage, accepted.Remote);
                break;
            case Refused refused:
                Counters.AddEvent(_refused, 1);
                _log.Warning("pcap-over-ip sink {0}: refused {1}: {2}", _settings.Stage, refused.Remote, refused.Reason);
                break;
            case ClientGone gone:
                if (_clients.Remove(gone.Client))
                {
                    gone.Client.Close();
                    Counters.AddEvent(_closed, 1);
                    _log.Info("pcap-over-ip sink {0}: client {1} closed the connection", _settings.Stage, gone.Client.Remote);
                    _health.Set(_clients.Count > 0);
                }

                break;
            default:
                Unhandled(message);
                break;
        }
    }

    protected override void Process(PacketBatch batch, int count, long bytes)
    {
        if (_clients.Count == 0)
        {
            Counters.AddDropped(_noClient, count, bytes);
            return;
        }

        var chunk = Serialize(batch, count, bytes);
        chunk.Retain(_clients.Count);
        for (int c = _clients.Count - 1; c >= 0; c--)
        {
            var client = _clients[c];
            if (client.Queued > _settings.ClientBufferBytes)
            {
                _clients.RemoveAt(c);
                client.Close();
                chunk.Release();
                Counters.AddEvent(_slow, 1);
                _log.Warning("pcap-over-ip sink {0}: client {1} is more than {2} bytes behind; disconnected", _settings.Stage, client.Remote, _settings.ClientBufferBytes);
                continue;
            }

            client.Enqueue(chunk);
        }

        chunk.Release();
        _health.Set(_clients.Count > 0);
        Counters.AddOut(count, bytes);
    }

    private static Chunk Serialize(PacketBatch batch, int count, long bytes)
    {
        var chunk = Chunk.Rent((int)Math.Min(int.MaxValue, bytes + ((long)count * PcapWriter.RecordHeaderLength)));
        var span = chunk.Array.AsSpan();
        int used = 0;
        for (int i = 0; i < count; i++)
        {
            var frame = batch.Packet(i);
            int captured = Math.Min(frame.Length, PcapWriter.DefaultSnapLength);
            PcapWriter.WriteRecordHeader(span[used..], batch.Timestamps[i], captured, batch.OriginalLengths[i], nanoseconds: false);
            frame[..captured].CopyTo(span[(used + PcapWriter.RecordHeaderLength)..]);
            used += PcapWriter.RecordHeaderLength + captured;
        }

        chunk.Length = used;
        return chunk;
    }

    private async Task AcceptLoop(TcpListener listener, IActorRef self, CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptSocketAsync(stopping).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                if (stopping.IsCancellationRequested)
                {
                    return;
                }

                continue;
            }

            var remote = socket.RemoteEndPoint as IPEndPoint ?? new IPEndPoint(IPAddress.None, 0);
            if (_settings.Token is null)
            {
                self.Tell(new Accepted(socket, remote));
                continue;
            }

            _ = CheckToken(socket, remote, self, stopping);
        }
    }

    /// <summary>Reads the client's first line and compares it with the token in constant time.</summary>
    private async Task CheckToken(Socket socket, IPEndPoint remote, IActorRef self, CancellationToken stopping)
    {
        string? problem = null;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping);
            timeout.CancelAfter(_settings.TokenTimeout);
            var line = new byte[MaxTokenLine];
            int used = 0;
            int newline = -1;
            while (newline < 0 && used < line.Length)
            {
                int read = await socket.ReceiveAsync(line.AsMemory(used), SocketFlags.None, timeout.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                newline = Array.IndexOf(line, (byte)'\n', used, read);
                used += read;
            }

            if (newline < 0)
            {
                problem = "no token line";
            }
            else
            {
                var given = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(line, 0, newline).Trim());
                var expected = Encoding.UTF8.GetBytes(_settings.Token!);
                if (!CryptographicOperations.FixedTimeEquals(given, expected))
                {
                    problem = "wrong token";
                }
            }
        }
        catch (OperationCanceledException)
        {
            problem = "no token in time";
        }
        catch (SocketException e)
        {
            problem = e.Message;
        }

        if (problem is null)
        {
            self.Tell(new Accepted(socket, remote));
        }
        else
        {
            socket.Dispose();
            self.Tell(new Refused(remote, problem));
        }
    }

    private sealed record Accepted(Socket Socket, IPEndPoint Remote);

    private sealed record Refused(IPEndPoint Remote, string Reason);

    private sealed record ClientGone(Client Client);

    /// <summary>pcap records of one batch in a pooled array, shared by the clients it is queued for.</summary>
    private sealed class Chunk
    {
        private readonly bool _pooled;
        private int _references = 1;

        private Chunk(byte[] array, bool pooled)
        {
            Array = array;
            _pooled = pooled;
            Length = array.Length;
        }

        public byte[] Array { get; }

        public int Length { get; set; }

        public static Chunk Rent(int length) => new(ArrayPool<byte>.Shared.Rent(Math.Max(length, 1)), pooled: true);

        public static Chunk Of(byte[] bytes) => new(bytes, pooled: false);

        public void Retain(int owners) => Interlocked.Add(ref _references, owners);

        public void Release()
        {
            if (Interlocked.Decrement(ref _references) == 0 && _pooled)
            {
                ArrayPool<byte>.Shared.Return(Array);
            }
        }
    }

    /// <summary>One connected client: its socket, its queue of chunks and the task that sends them.</summary>
    private sealed class Client
    {
        private const int KernelSendBuffer = 256 << 10;
        private readonly Socket _socket;
        private readonly IActorRef _sink;
        private readonly ConcurrentQueue<Chunk> _queue = new();
        private readonly SemaphoreSlim _ready = new(0);
        private readonly CancellationTokenSource _closing = new();
        private long _queued;
        private int _closed;

        public Client(Socket socket, IPEndPoint remote, IActorRef sink)
        {
            _socket = socket;
            _socket.NoDelay = true;
            // A small kernel buffer: how far behind a client is is then mostly its queue here, which is bounded.
            _socket.SendBufferSize = KernelSendBuffer;
            Remote = remote;
            _sink = sink;
            _ = Task.Run(SendLoop);
        }

        public IPEndPoint Remote { get; }

        /// <summary>Bytes queued and not yet handed to the kernel.</summary>
        public long Queued => Interlocked.Read(ref _queued);

        /// <summary>Queues a chunk (the caller gave this client one reference to it).</summary>
        public void Enqueue(Chunk chunk)
        {
            Interlocked.Add(ref _queued, chunk.Length);
            _queue.Enqueue(chunk);
            _ready.Release();
        }

        /// <summary>Closes the connection and frees what was still queued; safe to call twice.</summary>
        public void Close()
        {
            if (Interlocked.Exchange(ref _closed, 1) != 0)
            {
                return;
            }

            _closing.Cancel();
            _socket.Dispose();
            _ready.Release();
        }

        private async Task SendLoop()
        {
            try
            {
                while (Volatile.Read(ref _closed) == 0)
                {
                    await _ready.WaitAsync(_closing.Token).ConfigureAwait(false);
                    while (_queue.TryDequeue(out var chunk))
                    {
                        try
                        {
                            await _socket.SendAsync(chunk.Array.AsMemory(0, chunk.Length), SocketFlags.None, _closing.Token).ConfigureAwait(false);
                        }
                        finally
                        {
                            Interlocked.Add(ref _queued, -chunk.Length);
                            chunk.Release();
                        }
                    }
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                // Closed by the sink (slow, stopping) or by the client: the sink is told below.
            }
            finally
            {
                while (_queue.TryDequeue(out var chunk))
                {
                    Interlocked.Add(ref _queued, -chunk.Length);
                    chunk.Release();
                }

                if (Volatile.Read(ref _closed) == 0)
                {
                    _sink.Tell(new ClientGone(this));
                }
            }
        }
    }
}
