using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using Fabric.Actors.DataPlane;
using Fabric.Protocols.Encap;

namespace Fabric.Actors.Sinks;

/// <summary>
/// Re-encapsulates inner frames and sends them to a collector: VXLAN (RFC 7348) over a connected UDP socket,
/// or transparent-Ethernet GRE (0x6558) / ERSPAN type II (GRE 0x88BE) over a raw IP socket (the kernel writes
/// the outer IP header). A frame whose outer packet would exceed the configured MTU is either cut to fit
/// ("truncated") or handed to the kernel to fragment ("fragmented"); both are counted and still delivered.
/// Actor name: <c>sink-N</c>.
/// <para>
/// The socket is non-blocking: a collector that is slow, absent or unreachable never holds up this actor's thread.
/// A send that fails is counted by reason: "unreachable" (no route, host or network unreachable, ICMP port
/// unreachable reported on the connected socket), "send-buffer-full" (the socket's send buffer is full), or
/// "write-error". A destination that cannot even be connected to at start (no route) does not fail the pipeline:
/// frames are counted as "unreachable" and the connection is retried once a second. Failing and recovering are
/// each logged once.
/// </para>
/// </summary>
public sealed class ForwarderSinkActor : BatchStageActor
{
    public static readonly IReadOnlyList<string> DropReasons = ["queue-full", "unreachable", "send-buffer-full", "write-error"];

    /// <summary>How often a sink without a connection tries to connect again.</summary>
    public static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(1);

    /// <summary>Event counters (frames still delivered): cut to the MTU, sent as IP fragments.</summary>
    public static readonly IReadOnlyList<string> EventNames = ["truncated", "fragmented"];

    private const int UdpHeaderLength = 8;

    private readonly ForwardSinkSettings _settings;
    private readonly int _writeError;
    private readonly int _unreachable;
    private readonly int _bufferFull;
    private readonly int _truncated;
    private readonly int _fragmented;
    private readonly long[] _failedPackets;
    private readonly long[] _failedBytes;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly byte[] _packet = new byte[65536];
    private readonly Encapsulator _encapsulator;
    private readonly int _headerLength;
    private readonly int _outerOverhead;
    private Socket? _socket;
    private bool _connected;
    private DateTime _nextConnect;
    private bool _failing;
    private DateTime _lastFailure;

    public ForwarderSinkActor(ForwardSinkSettings settings, BatchQueue queue, StageCounters counters)
        : base(queue, counters, settings.Cpu, nice: settings.Nice)
    {
        _settings = settings;
        _writeError = counters.ReasonIndex("write-error");
        _unreachable = counters.ReasonIndex("unreachable");
        _bufferFull = counters.ReasonIndex("send-buffer-full");
        _truncated = counters.EventIndex("truncated");
        _fragmented = counters.EventIndex("fragmented");
        _failedPackets = new long[counters.Reasons.Length];
        _failedBytes = new long[counters.Reasons.Length];
        int ipHeader = settings.Destination.AddressFamily == AddressFamily.InterNetworkV6 ? 40 : 20;
        // The socket writes the outer IP (and, for VXLAN, UDP) header; the encapsulator writes the rest.
        _encapsulator = new Encapsulator(new EncapOptions
        {
            Outer = OuterHeaders.Tunnel,
            Type = settings.Encapsulation switch
            {
                ForwardEncapsulation.Vxlan => EncapsulationType.Vxlan,
                ForwardEncapsulation.Gre => EncapsulationType.Gre,
                _ => EncapsulationType.ErspanII,
            },
            Vni = (uint)settings.Vni,
            GreKey = settings.SessionId != 0 ? (uint)settings.SessionId : null,
            ErspanSessionId = (ushort)(settings.SessionId & 0x3FF),
        });
        _headerLength = _encapsulator.HeaderLength;
        _outerOverhead = ipHeader + _headerLength + (settings.Encapsulation == ForwardEncapsulation.Vxlan ? UdpHeaderLength : 0);
    }

    public static Props Props(ForwardSinkSettings settings, BatchQueue queue, StageCounters counters) =>
        Akka.Actor.Props.Create(() => new ForwarderSinkActor(settings, queue, counters));

    protected override void PreStart()
    {
        base.PreStart();
        _log.Info("Forwarder {0}: {1} to {2}", _settings.Stage, _settings.Encapsulation, _settings.Destination);
        TryConnect();
    }

    /// <summary>Creates and connects the socket (for UDP and raw IP, connecting only picks the route and the source
    /// address); false when there is no route to the destination now. A socket whose connect failed is closed and
    /// the next attempt starts with a new one.</summary>
    private bool TryConnect()
    {
        _nextConnect = DateTime.UtcNow + RetryInterval;
        var family = _settings.Destination.AddressFamily;
        var socket = _settings.Encapsulation == ForwardEncapsulation.Vxlan
            ? new Socket(family, SocketType.Dgram, ProtocolType.Udp)
            : new Socket(family, SocketType.Raw, (ProtocolType)47);
        try
        {
            socket.SendBufferSize = 4 << 20;
            if (family == AddressFamily.InterNetwork)
            {
                // Fragment: the kernel may split the outer packet (IP_PMTUDISC_DONT); truncate never sends more than the MTU.
                socket.DontFragment = false;
            }

            socket.Blocking = false;
            socket.Connect(_settings.Destination);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            Failing(e.SocketErrorCode);
            return false;
        }

        _socket = socket;
        _connected = true;
        return true;
    }

    protected override void PostStop() => _socket?.Dispose();

    /// <summary>Encapsulates and sends every frame of the batch.</summary>
    protected override void Process(PacketBatch batch, int count, long bytes)
    {
        if (!_connected && (DateTime.UtcNow < _nextConnect || !TryConnect()))
        {
            Counters.AddDropped(_unreachable, count, bytes);
            return;
        }

        long outPackets = 0, outBytes = 0, truncated = 0, fragmented = 0;
        var failure = SocketError.Success;
        int maxFrame = _settings.Mtu - _outerOverhead;
        for (int i = 0; i < count; i++)
        {
            var frame = batch.Packet(i);
            int length = frame.Length;
            if (length > maxFrame)
            {
                if (_settings.Oversize == OversizePolicy.Truncate)
                {
                    frame = frame[..maxFrame];
                    truncated++;
                }
                else
                {
                    fragmented++;
                }
            }

            if (_headerLength + frame.Length > _packet.Length)
            {
                frame = frame[..(_packet.Length - _headerLength)];
            }

            int packetLength = _encapsulator.Encapsulate(frame, _packet, truncated: frame.Length < batch.OriginalLengths[i]);
            _socket!.Send(_packet.AsSpan(0, packetLength), SocketFlags.None, out SocketError error);
            if (error == SocketError.Success)
            {
                outPackets++;
                outBytes += length;
            }
            else
            {
                int reason = Reason(error);
                _failedPackets[reason]++;
                _failedBytes[reason] += length;
                failure = error;
            }
        }

        Counters.AddOut(outPackets, outBytes);
        for (int r = 0; r < _failedPackets.Length; r++)
        {
            Counters.AddDropped(r, _failedPackets[r], _failedBytes[r]);
            _failedPackets[r] = 0;
            _failedBytes[r] = 0;
        }

        Counters.AddEvent(_truncated, truncated);
        Counters.AddEvent(_fragmented, fragmented);
        if (failure != SocketError.Success)
        {
            Failing(failure);
        }
        else if (_failing && DateTime.UtcNow - _lastFailure >= RetryInterval)
        {
            _failing = false;
            _log.Info("Forwarder {0}: sending to {1} again", _settings.Stage, _settings.Destination);
        }
    }

    private int Reason(SocketError error) => error switch
    {
        SocketError.ConnectionRefused or SocketError.HostUnreachable or SocketError.NetworkUnreachable
            or SocketError.HostDown or SocketError.NetworkDown or SocketError.NotConnected => _unreachable,
        SocketError.WouldBlock or SocketError.NoBufferSpaceAvailable => _bufferFull,
        _ => _writeError,
    };

    /// <summary>Logs once when sending starts failing (again after a second without failures).</summary>
    private void Failing(SocketError error)
    {
        _lastFailure = DateTime.UtcNow;
        if (!_failing)
        {
            _failing = true;
            _log.Error("Forwarder {0}: sending to {1} failed: {2}; frames are counted as {3} until it works again",
                _settings.Stage, _settings.Destination, error, Counters.Reasons[Reason(error)]);
        }
    }
}
