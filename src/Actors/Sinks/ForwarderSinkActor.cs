using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using Fabric.Actors.Pipelines;
using Fabric.Protocols.Encap;

namespace Fabric.Actors.Sinks;

/// <summary>
/// Re-encapsulates inner frames and sends them to a collector: VXLAN (RFC 7348) over a connected UDP socket,
/// or transparent-Ethernet GRE (0x6558) / ERSPAN type II (GRE 0x88BE) over a raw IP socket (the kernel writes
/// the outer IP header). A frame whose outer packet would exceed the configured MTU is either cut to fit
/// ("truncated") or handed to the kernel to fragment ("fragmented"); both are counted and still delivered.
/// Actor name: <c>sink-N</c>.
/// </summary>
public sealed class ForwarderSinkActor : UntypedActor
{
    public static readonly IReadOnlyList<string> DropReasons = ["queue-full", "write-error"];

    /// <summary>Event counters (frames still delivered): cut to the MTU, sent as IP fragments.</summary>
    public static readonly IReadOnlyList<string> EventNames = ["truncated", "fragmented"];

    private const int UdpHeaderLength = 8;

    private readonly ForwardSinkSettings _settings;
    private readonly BatchQueue _queue;
    private readonly StageCounters _counters;
    private readonly int _writeError;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly byte[] _packet = new byte[65536];
    private readonly Encapsulator _encapsulator;
    private readonly int _headerLength;
    private readonly int _outerOverhead;
    private Socket? _socket;
    private bool _errorReported;

    public ForwarderSinkActor(ForwardSinkSettings settings, BatchQueue queue, StageCounters counters)
    {
        _settings = settings;
        _queue = queue;
        _counters = counters;
        _writeError = counters.ReasonIndex("write-error");
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
        var family = _settings.Destination.AddressFamily;
        _socket = _settings.Encapsulation == ForwardEncapsulation.Vxlan
            ? new Socket(family, SocketType.Dgram, ProtocolType.Udp)
            : new Socket(family, SocketType.Raw, (ProtocolType)47);
        _socket.SendBufferSize = 4 << 20;
        if (family == AddressFamily.InterNetwork)
        {
            // Fragment: the kernel may split the outer packet (IP_PMTUDISC_DONT); truncate never sends more than the MTU.
            _socket.DontFragment = false;
        }

        _socket.Connect(_settings.Destination);
        _log.Info("Forwarder {0}: {1} to {2}", _settings.Stage, _settings.Encapsulation, _settings.Destination);
    }

    protected override void PostStop() => _socket?.Dispose();

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case PacketBatch batch:
                try
                {
                    Send(batch);
                }
                finally
                {
                    batch.Release();
                    _queue.Completed();
                }

                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void Send(PacketBatch batch)
    {
        int count = batch.Count;
        long bytes = batch.TotalBytes();
        _counters.AddIn(count, bytes);
        long outPackets = 0, outBytes = 0, errors = 0, errorBytes = 0, truncated = 0, fragmented = 0;
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
            try
            {
                _socket!.Send(_packet.AsSpan(0, packetLength), SocketFlags.None);
                outPackets++;
                outBytes += length;
            }
            catch (SocketException e)
            {
                errors++;
                errorBytes += length;
                if (!_errorReported)
                {
                    _log.Error("Forwarder {0}: sending to {1} failed: {2} (counted as write-error from now on)", _settings.Stage, _settings.Destination, e.Message);
                    _errorReported = true;
                }
            }
        }

        _counters.AddOut(outPackets, outBytes);
        _counters.AddDropped(_writeError, errors, errorBytes);
        _counters.AddEvent(0, truncated);
        _counters.AddEvent(1, fragmented);
    }
}
