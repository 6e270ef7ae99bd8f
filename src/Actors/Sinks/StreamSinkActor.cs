using System.Collections.Concurrent;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using Akka.Actor;
using Akka.Event;
using Fabric.Actors.DataPlane;
using Fabric.Protocols;
using Fabric.Protocols.NodeStream;

namespace Fabric.Actors.Sinks;

/// <summary>
/// Sends the pipeline's frames to another node's <c>stream</c> source: each batch becomes one record (sequence
/// number, frame count, the frames before it, compressed once), handed to a bounded send buffer of
/// <c>send-buffer</c> records that a sender thread writes to one TLS 1.3 connection (mutual, the node's remoting
/// certificates). TCP is the flow control: when the receiver or the path is slow, writes block, the send buffer
/// fills, and the sink drops (<c>when-full = drop</c>: <c>send-buffer-full</c>, or <c>disconnected</c> while there is
/// no connection) or waits (<c>wait</c>: up to <c>wait-timeout</c>, holding capture back). A record whose write
/// failed is sent again on the next connection (the receiver drops it if it had it already), so every frame counted
/// out reached the kernel of a connected socket; what the path lost after that the receiver counts from the
/// sequence numbers. Reconnects with <see cref="Backoff"/>. Actor name: <c>sink-N</c>.
/// </summary>
public sealed class StreamSinkActor : BatchStageActor
{
    public static readonly IReadOnlyList<string> DropReasons = ["queue-full", "send-buffer-full", "disconnected", "stopped", "too-large"];

    /// <summary>records: records written; wire-bytes: their bytes on the wire (headers and compressed payloads, before
    /// TLS); connects, disconnects; tls-refused: handshakes refused because of the receiver's certificate;
    /// resent: records written again after a connection broke.</summary>
    public static readonly IReadOnlyList<string> EventNames = ["records", "wire-bytes", "connects", "disconnects", "tls-refused", "resent"];

    private readonly StreamSinkSettings _settings;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly StreamRecordEncoder _encoder;
    private readonly BlockingCollection<Record> _free;
    private readonly BlockingCollection<Record> _send;
    private readonly CancellationTokenSource _stop = new();
    private readonly ulong _streamId;
    private readonly int _sendBufferFull;
    private readonly int _disconnected;
    private readonly int _stopped;
    private readonly int _tooLarge;
    private ulong _sequence;
    private ulong _framesBefore;
    private Thread? _thread;
    private volatile bool _connected;

    public StreamSinkActor(StreamSinkSettings settings, BatchQueue queue, StageCounters counters)
        : base(queue, counters, settings.Cpu, nice: settings.Nice)
    {
        _settings = settings;
        _encoder = new StreamRecordEncoder(settings.Compression, settings.Level);
        _free = new BlockingCollection<Record>(new ConcurrentStack<Record>(), settings.SendBuffer);
        _send = new BlockingCollection<Record>(new ConcurrentQueue<Record>(), settings.SendBuffer);
        for (int i = 0; i < settings.SendBuffer; i++)
        {
            _free.Add(new Record());
        }

        _streamId = BitConverterFree(RandomNumberGenerator.GetBytes(8));
        _sendBufferFull = counters.ReasonIndex("send-buffer-full");
        _disconnected = counters.ReasonIndex("disconnected");
        _stopped = counters.ReasonIndex("stopped");
        _tooLarge = counters.ReasonIndex("too-large");
    }

    public static Props Props(StreamSinkSettings settings, BatchQueue queue, StageCounters counters) =>
        Akka.Actor.Props.Create(() => new StreamSinkActor(settings, queue, counters));

    protected override void PreStart()
    {
        base.PreStart();
        _log.Info("Stream {0}: to {1}:{2}, {3} compression, stream id {4:x16}", _settings.Stage, _settings.Host, _settings.Port,
            _settings.Compression.ToString().ToLowerInvariant(), _streamId);
        var sender = new StreamWriter(this);
        _thread = new Thread(sender.Run) { IsBackground = true, Name = $"stream-{_settings.Stage}" };
        _thread.Start();
    }

    protected override void PostStop()
    {
        _stop.Cancel();
        _thread?.Join(TimeSpan.FromSeconds(10));
        _encoder.Dispose();
    }

    /// <summary>Encodes the batch into one record and queues it for the sender thread.</summary>
    protected override void Process(PacketBatch batch, int count, long bytes)
    {
        if (count == 0)
        {
            return;
        }

        Record? record;
        if (_settings.WhenFull == SinkWhenFull.Drop)
        {
            if (!_connected)
            {
                Counters.AddDropped(_disconnected, count, bytes);
                return;
            }

            if (!_free.TryTake(out record))
            {
                Counters.AddDropped(_sendBufferFull, count, bytes);
                return;
            }
        }
        else if (!_free.TryTake(out record, _settings.WaitTimeout))
        {
            Counters.AddDropped(_connected ? _sendBufferFull : _disconnected, count, bytes);
            return;
        }

        _encoder.Reset();
        int added = 0;
        long addedBytes = 0;
        while (added < count && _encoder.TryAdd(batch.Packet(added), batch.OriginalLengths[added], batch.Timestamps[added]))
        {
            addedBytes += batch.CapturedLengths[added];
            added++;
        }

        if (added < count)
        {
            Counters.AddDropped(_tooLarge, count - added, bytes - addedBytes);
        }

        if (added == 0)
        {
            _free.Add(record);
            return;
        }

        record.Sequence = ++_sequence;
        record.Length = _encoder.Finish(_streamId, record.Sequence, _framesBefore, ref record.Buffer);
        record.Frames = added;
        record.Bytes = addedBytes;
        record.Resend = false;
        _framesBefore += (ulong)added;
        _send.Add(record);
    }

    private static ulong BitConverterFree(byte[] bytes) => System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(bytes);

    /// <summary>One encoded record in the send buffer.</summary>
    private sealed class Record
    {
        public byte[] Buffer = new byte[64 * 1024];

        public int Length;

        public int Frames;

        public long Bytes;

        public ulong Sequence;

        public bool Resend;
    }

    /// <summary>The sender thread: connects (with backoff), writes records in order, reconnects when a write fails and
    /// writes the failed record again.</summary>
    private sealed class StreamWriter(StreamSinkActor sink)
    {
        private readonly StreamSinkSettings _settings = sink._settings;
        private readonly StageCounters _counters = sink.Counters;
        private readonly int _records = sink.Counters.EventIndex("records");
        private readonly int _wireBytes = sink.Counters.EventIndex("wire-bytes");
        private readonly int _connects = sink.Counters.EventIndex("connects");
        private readonly int _disconnects = sink.Counters.EventIndex("disconnects");
        private readonly int _tlsRefused = sink.Counters.EventIndex("tls-refused");
        private readonly int _resent = sink.Counters.EventIndex("resent");
        private readonly HashSet<string> _refusedLogged = new(StringComparer.Ordinal);
        private readonly Backoff _backoff = new(TimeSpan.FromMilliseconds(100), sink._settings.MaxBackoff);
        private Socket? _socket;
        private SslStream? _tls;
        private string? _failure;

        public void Run()
        {
            var token = sink._stop.Token;
            Record? record = null;
            try
            {
                while (!token.IsCancellationRequested)
                {
                    if (_tls is null && !Connect(token))
                    {
                        token.WaitHandle.WaitOne(_backoff.Next());
                        continue;
                    }

                    if (record is null && !sink._send.TryTake(out record, 200))
                    {
                        continue;
                    }

                    if (Write(record))
                    {
                        _counters.AddOut(record.Frames, record.Bytes);
                        _counters.AddEvent(_records, 1);
                        _counters.AddEvent(_wireBytes, record.Length);
                        sink._free.Add(record);
                        record = null;
                    }
                    else
                    {
                        record.Resend = true;
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
            finally
            {
                // Stopping: what was never written is counted as stopped.
                if (record is not null)
                {
                    _counters.AddDropped(sink._stopped, record.Frames, record.Bytes);
                }

                while (sink._send.TryTake(out var left))
                {
                    _counters.AddDropped(sink._stopped, left.Frames, left.Bytes);
                }

                Close();
            }
        }

        private bool Write(Record record)
        {
            try
            {
                if (record.Resend)
                {
                    _counters.AddEvent(_resent, 1);
                }

                _tls!.Write(record.Buffer, 0, record.Length);
                return true;
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
            {
                Lost($"write failed: {e.GetBaseException().Message}");
                return false;
            }
        }

        private bool Connect(CancellationToken token)
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, SendTimeout = (int)_settings.WriteTimeout.TotalMilliseconds };
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, 5);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, 2);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, 3);
            SslStream? tls = null;
            string? refusal = null;
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
                timeout.CancelAfter(_settings.ConnectTimeout);
                socket.ConnectAsync(_settings.Host, _settings.Port, timeout.Token).AsTask().GetAwaiter().GetResult();
                tls = new SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false);
                var options = _settings.Tls.ClientOptions((certificate, why) => refusal = Refused(certificate, why));
                tls.AuthenticateAsClientAsync(options, timeout.Token).GetAwaiter().GetResult();
            }
            catch (Exception e) when (e is SocketException or IOException or AuthenticationException or OperationCanceledException)
            {
                tls?.Dispose();
                socket.Dispose();
                if (token.IsCancellationRequested)
                {
                    throw new OperationCanceledException(token);
                }

                if (refusal is not null)
                {
                    _counters.AddEvent(_tlsRefused, 1);
                }

                Failing(refusal ?? (e is OperationCanceledException ? $"no connection within {_settings.ConnectTimeout.TotalSeconds:0.#} s" : e.GetBaseException().Message));
                return false;
            }

            _socket = socket;
            _tls = tls;
            sink._connected = true;
            _backoff.Reset();
            _counters.AddEvent(_connects, 1);
            if (_failure is not null)
            {
                sink._log.Info("Stream {0}: connected to {1}:{2} again", _settings.Stage, _settings.Host, _settings.Port);
            }
            else
            {
                sink._log.Info("Stream {0}: connected to {1}:{2} (TLS 1.3)", _settings.Stage, _settings.Host, _settings.Port);
            }

            _failure = null;
            return true;
        }

        private string Refused(System.Security.Cryptography.X509Certificates.X509Certificate2? certificate, string why)
        {
            string key = certificate?.Thumbprint ?? "(none)";
            if (_refusedLogged.Count < 1024 && _refusedLogged.Add(key))
            {
                sink._log.Warning("Stream {0}: refused the certificate of {1}:{2}: {3}; further refusals are counted as tls-refused, not logged",
                    _settings.Stage, _settings.Host, _settings.Port, why);
            }

            return "receiver's certificate refused: " + why;
        }

        private void Lost(string why)
        {
            // Reset, not a graceful close: the old connection must not go on delivering after the new one started.
            try
            {
                _socket?.LingerState = new LingerOption(true, 0);
            }
            catch (SocketException)
            {
            }
            catch (ObjectDisposedException)
            {
            }

            Close();
            _counters.AddEvent(_disconnects, 1);
            Failing(why);
        }

        /// <summary>Logs once when the stream goes down (not again until it has been up).</summary>
        private void Failing(string why)
        {
            sink._connected = false;
            if (_failure is null)
            {
                _failure = why;
                sink._log.Warning("Stream {0}: no connection to {1}:{2} ({3}); reconnecting with backoff up to {4} s", _settings.Stage,
                    _settings.Host, _settings.Port, why, _settings.MaxBackoff.TotalSeconds);
            }
        }

        private void Close()
        {
            sink._connected = false;
            _tls?.Dispose();
            _socket?.Dispose();
            _tls = null;
            _socket = null;
        }
    }
}
