using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Akka.Event;
using Fabric.Actors.DataPlane;
using Fabric.Protocols;
using Fabric.Protocols.NodeStream;

namespace Fabric.Actors.Capture;

/// <summary>
/// The body of a stream source's capture thread: listens on <c>listen</c>, accepts up to <c>max-connections</c>
/// senders (each on a thread of its own), requires TLS 1.3 with a client certificate that passes the node's remoting
/// check, reads records (docs/stream-protocol.md), and appends their frames, with their timestamps and original
/// lengths, into pooled batches for the decap stage, as a live capture does. When the pipeline is behind (no free
/// batch, decap's queue full), a connection stops reading and TCP holds the sender back. Hostile or broken input
/// (wrong magic or version, lengths over the limits, a payload that does not decompress to exactly its announced
/// length, frames that do not add up) closes that connection and is counted under its name; nothing is allocated
/// beyond <c>max-record-bytes</c> per connection. Per sender stream (its stream id) the sequence numbers give the
/// frames lost in transit, duplicates and reordered records.
/// </summary>
internal sealed class StreamSource
{
    /// <summary>Event counters of the capture stage of a stream source.</summary>
    public static readonly IReadOnlyList<string> EventNames =
    [
        "records", "wire-bytes", "lost-in-transit", "duplicates", "reordered", "connections", "tls-refused", "tls-failed",
        "too-many-connections", "closed-mid-record",
        "bad-magic", "bad-version", "bad-compression", "too-large", "bad-payload", "bad-frames",
    ];

    private const int MaxStreams = 256;
    private const int MaxMissingRanges = 256;

    private readonly CaptureSettings _capture;
    private readonly StreamSourceSettings _settings;
    private readonly PacketBatchPool _pool;
    private readonly BatchQueue _downstream;
    private readonly StageCounters _counters;
    private readonly CaptureStatus _status;
    private readonly ILoggingAdapter _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<Socket, Thread> _connections = new();
    private readonly Dictionary<ulong, StreamState> _streams = [];
    private readonly Lock _streamsGate = new();
    private readonly HashSet<string> _refusedLogged = new(StringComparer.Ordinal);
    private readonly int _stopped;
    private readonly int _records;
    private readonly int _wireBytes;
    private readonly int _lost;
    private readonly int _duplicates;
    private readonly int _reordered;
    private readonly int _connectionsEvent;
    private readonly int _tlsRefused;
    private readonly int _tlsFailed;
    private readonly int _tooMany;
    private readonly int _midRecord;
    private long _streamOrder;

    public StreamSource(CaptureSettings capture, PacketBatchPool pool, BatchQueue downstream, StageCounters counters,
        CaptureStatus status, ILoggingAdapter log)
    {
        _capture = capture;
        _settings = capture.Stream!;
        _pool = pool;
        _downstream = downstream;
        _counters = counters;
        _status = status;
        _log = log;
        _stopped = counters.ReasonIndex("stopped");
        _records = counters.EventIndex("records");
        _wireBytes = counters.EventIndex("wire-bytes");
        _lost = counters.EventIndex("lost-in-transit");
        _duplicates = counters.EventIndex("duplicates");
        _reordered = counters.EventIndex("reordered");
        _connectionsEvent = counters.EventIndex("connections");
        _tlsRefused = counters.EventIndex("tls-refused");
        _tlsFailed = counters.EventIndex("tls-failed");
        _tooMany = counters.EventIndex("too-many-connections");
        _midRecord = counters.EventIndex("closed-mid-record");
    }

    public void Stop()
    {
        _stop.Cancel();
        _pool.Room.Set(); // wake a connection waiting for room
        _downstream.Room.Set();
        foreach (var socket in _connections.Keys)
        {
            socket.Dispose();
        }
    }

    /// <summary>The capture thread: binds (retrying with backoff while the address is not there), then accepts.</summary>
    public void Run()
    {
        _status.Started(Native.Libc.gettid());
        var token = _stop.Token;
        var backoff = new Backoff(TimeSpan.FromMilliseconds(100), _capture.MaxBackoff);
        bool reported = false;
        while (!token.IsCancellationRequested)
        {
            var listener = new TcpListener(_settings.Listen);
            try
            {
                listener.Start(64);
            }
            catch (SocketException e)
            {
                listener.Dispose();
                if (!reported)
                {
                    reported = true;
                    _status.Unavailable($"cannot listen on {_settings.Listen}: {e.Message}");
                    _log.Warning("Stream source {0}: cannot listen ({1}); retrying", _settings.Listen, e.Message);
                }

                token.WaitHandle.WaitOne(backoff.Next());
                continue;
            }

            _status.Opened();
            _log.Info("Stream source listening on {0} (TLS 1.3, mutual)", _settings.Listen);
            try
            {
                Accept(listener, token);
            }
            finally
            {
                listener.Dispose();
                _status.Closed(null);
            }
        }

        foreach (var thread in _connections.Values)
        {
            thread.Join(TimeSpan.FromSeconds(5));
        }
    }

    private void Accept(TcpListener listener, CancellationToken token)
    {
        while (!token.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = listener.AcceptSocketAsync(token).AsTask().GetAwaiter().GetResult();
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (SocketException e)
            {
                _log.Warning("Stream source {0}: accept failed: {1}", _settings.Listen, e.Message);
                continue;
            }

            if (_connections.Count >= _settings.MaxConnections)
            {
                _counters.AddEvent(_tooMany, 1);
                socket.Dispose();
                continue;
            }

            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, 5);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, 2);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, 3);
            var thread = new Thread(() => Serve(socket)) { IsBackground = true, Name = $"stream-in-{socket.RemoteEndPoint}" };
            _connections[socket] = thread;
            thread.Start();
        }
    }

    /// <summary>One sender: handshake, then records until the connection ends or sends something it must not.</summary>
    private void Serve(Socket socket)
    {
        var peer = socket.RemoteEndPoint?.ToString() ?? "?";
        PacketBatch? batch = null;
        try
        {
            using var tls = new SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false);
            if (!Handshake(tls, peer))
            {
                return;
            }

            _counters.AddEvent(_connectionsEvent, 1);
            using var decoder = new StreamRecordDecoder(_settings.MaxRecordBytes);
            var header = new byte[StreamRecordHeader.Length];
            var payload = new byte[4096];
            var token = _stop.Token;
            while (!token.IsCancellationRequested)
            {
                if (!ReadExactly(tls, header, StreamRecordHeader.Length, atStart: true))
                {
                    return;
                }

                var status = StreamRecordHeader.TryRead(header, out var record);
                if (status == StreamDecodeStatus.Ok)
                {
                    status = decoder.Admit(record);
                }

                if (status != StreamDecodeStatus.Ok)
                {
                    Refuse(status, peer);
                    return;
                }

                if (payload.Length < record.PayloadLength)
                {
                    payload = new byte[Math.Max(record.PayloadLength, Math.Min(payload.Length * 2, decoder.MaxRawLength))];
                }

                if (!ReadExactly(tls, payload, record.PayloadLength, atStart: false))
                {
                    return;
                }

                status = decoder.Decode(record, payload.AsSpan(0, record.PayloadLength), out var frames);
                if (status != StreamDecodeStatus.Ok)
                {
                    Refuse(status, peer);
                    return;
                }

                _counters.AddEvent(_records, 1);
                _counters.AddEvent(_wireBytes, StreamRecordHeader.Length + record.PayloadLength);
                if (!Admit(record))
                {
                    _counters.AddEvent(_duplicates, record.FrameCount);
                    continue;
                }

                long rawFrameBytes = record.RawLength - ((long)record.FrameCount * StreamRecordHeader.FrameHeaderLength);
                _counters.AddIn(record.FrameCount, rawFrameBytes);
                int appended = 0;
                long appendedBytes = 0;
                foreach (var frame in frames)
                {
                    if ((batch is null && (batch = Rent()) is null) || !batch.TryAppend(frame.Data, frame.OriginalLength, frame.TimestampNs))
                    {
                        if ((batch is not null && !Post(ref batch)) || (batch = Rent()) is null)
                        {
                            _counters.AddDropped(_stopped, record.FrameCount - appended, rawFrameBytes - appendedBytes);
                            return;
                        }

                        batch.TryAppend(frame.Data, frame.OriginalLength, frame.TimestampNs);
                    }

                    appended++;
                    appendedBytes += frame.Data.Length;
                }
                if (batch is not null && !Post(ref batch))
                {
                    return;
                }
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or AuthenticationException)
        {
            // The connection ended (reset, keepalive, stop); the next record of this sender comes on a new one.
        }
        finally
        {
            if (batch is not null)
            {
                _counters.AddDropped(_stopped, batch.Count, batch.TotalBytes());
                batch.SetReferences(1);
                batch.Release();
            }

            _connections.TryRemove(socket, out _);
            socket.Dispose();
        }
    }

    private bool Handshake(SslStream tls, string peer)
    {
        string? refusal = null;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            timeout.CancelAfter(_settings.HandshakeTimeout);
            tls.AuthenticateAsServerAsync(_settings.Tls.ServerOptions((certificate, why) => refusal = Refused(certificate, why, peer)), timeout.Token)
                .GetAwaiter().GetResult();
            return true;
        }
        catch (Exception e) when (e is IOException or AuthenticationException or OperationCanceledException or SocketException)
        {
            _counters.AddEvent(refusal is null ? _tlsFailed : _tlsRefused, 1);
            return false;
        }
    }

    private string Refused(X509Certificate2? certificate, string why, string peer)
    {
        lock (_refusedLogged)
        {
            if (_refusedLogged.Count < 1024 && _refusedLogged.Add(certificate?.Thumbprint ?? "(none)"))
            {
                _log.Warning("Stream source {0}: refused sender {1}: {2}; further refusals of this certificate are counted as tls-refused, not logged",
                    _settings.Listen, peer, why);
            }
        }

        return why;
    }

    /// <summary>Counts a hostile or broken record by name; the caller closes the connection.</summary>
    private void Refuse(StreamDecodeStatus status, string peer)
    {
        _counters.AddEvent(_counters.EventIndex(StreamDecodeStatusNames.Of(status)), 1);
        _log.Warning("Stream source {0}: closed the connection of {1}: {2}", _settings.Listen, peer, StreamDecodeStatusNames.Of(status));
    }

    /// <summary>Reads exactly <paramref name="count"/> bytes; false at the end of the stream (counted as
    /// closed-mid-record unless it came between records).</summary>
    private bool ReadExactly(SslStream tls, byte[] buffer, int count, bool atStart)
    {
        int read = 0;
        while (read < count)
        {
            int n = tls.Read(buffer, read, count - read);
            if (n == 0)
            {
                if (read > 0 || !atStart)
                {
                    _counters.AddEvent(_midRecord, 1);
                }

                return false;
            }

            read += n;
        }

        return true;
    }

    /// <summary>The sequence accounting of one record: true to deliver it, false for a duplicate.</summary>
    private bool Admit(in StreamRecordHeader record)
    {
        lock (_streamsGate)
        {
            if (!_streams.TryGetValue(record.StreamId, out var state))
            {
                if (_streams.Count >= MaxStreams)
                {
                    var oldest = _streams.MinBy(s => s.Value.LastUsed).Key;
                    _streams.Remove(oldest);
                }

                state = new StreamState();
                _streams[record.StreamId] = state;
            }

            state.LastUsed = ++_streamOrder;
            if (!state.Admit(record, out long lost, out bool reordered))
            {
                return false;
            }

            _counters.AddEvent(_lost, lost);
            if (reordered)
            {
                _counters.AddEvent(_reordered, 1);
            }

            return true;
        }
    }

    private PacketBatch? Rent()
    {
        var spin = default(SpinWait);
        PacketBatch? batch;
        while ((batch = _pool.TryRent()) is null)
        {
            if (_stop.IsCancellationRequested)
            {
                return null;
            }

            _pool.Room.WaitStep(ref spin, RoomWaitMs);
        }

        return batch;
    }

    /// <summary>Hands the batch to decap, waiting while its queue is full (the sender waits on TCP meanwhile).</summary>
    private bool Post(ref PacketBatch? batch)
    {
        var b = batch!;
        if (b.Count == 0)
        {
            return true;
        }

        var spin = default(SpinWait);
        long bytes = b.TotalBytes();
        int count = b.Count;
        while (!_downstream.TryPost(b))
        {
            if (_stop.IsCancellationRequested)
            {
                return false;
            }

            _downstream.Room.WaitStep(ref spin, RoomWaitMs);
        }

        _counters.AddOut(count, bytes);
        batch = null;
        return true;
    }

    /// <summary>Longest wait for room before the stop flag is checked again (Stop also wakes the waits).</summary>
    private const int RoomWaitMs = 100;

    /// <summary>What one sender stream has delivered: the highest sequence, the frames expected before the next,
    /// and the ranges of sequences not (yet) seen, to tell a late record from a duplicate.</summary>
    internal sealed class StreamState
    {
        private readonly List<(ulong From, ulong To)> _missing = [];

        public ulong Highest { get; private set; }

        public ulong ExpectedFramesBefore { get; private set; }

        public long LastUsed { get; set; }

        /// <summary>True to deliver the record; <paramref name="lost"/>: frames newly counted (or, negative, no longer
        /// counted) as lost in transit; <paramref name="reordered"/>: it filled a gap.</summary>
        public bool Admit(in StreamRecordHeader record, out long lost, out bool reordered)
        {
            lost = 0;
            reordered = false;
            ulong s = record.Sequence;
            if (s > Highest)
            {
                if (record.FramesBefore > ExpectedFramesBefore)
                {
                    lost = (long)(record.FramesBefore - ExpectedFramesBefore);
                }

                if (s > Highest + 1)
                {
                    if (_missing.Count == MaxMissingRanges)
                    {
                        _missing.RemoveAt(0);
                    }

                    _missing.Add((Highest + 1, s - 1));
                }

                Highest = s;
                ExpectedFramesBefore = record.FramesBefore + (ulong)record.FrameCount;
                return true;
            }

            for (int i = 0; i < _missing.Count; i++)
            {
                var (from, to) = _missing[i];
                if (s < from || s > to)
                {
                    continue;
                }

                _missing.RemoveAt(i);
                if (s > from)
                {
                    _missing.Insert(i, (from, s - 1));
                }

                if (s < to)
                {
                    _missing.Insert(s > from ? i + 1 : i, (s + 1, to));
                }

                lost = -record.FrameCount;
                reordered = true;
                return true;
            }

            return false;
        }
    }
}
