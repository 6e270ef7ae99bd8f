using System.Runtime.InteropServices;
using Fabric.Actors.Native;

namespace Fabric.Actors.DataPlane;

/// <summary>
/// A BPF filter (tcpdump syntax, compiled by libpcap) applied to Ethernet frames in user space with libpcap's
/// own interpreter: the decap stage's <c>filter</c> on the inner frames, and a file source's <c>source.filter</c>
/// on the outer packets (a live source's runs in the kernel). Compiled once; <see cref="Matches"/> allocates nothing.
/// </summary>
public sealed unsafe class BpfFilter : IDisposable
{
    private LibPcap.BpfProgram _program;
    private bool _compiled;

    private BpfFilter(string expression) => Expression = expression;

    public string Expression { get; }

    /// <summary>Compiles <paramref name="expression"/> for Ethernet frames. Throws <see cref="FormatException"/>
    /// with libpcap's message when it does not compile.</summary>
    public static BpfFilter Compile(string expression, int snaplen = 65535)
    {
        var filter = new BpfFilter(expression);
        nint pcap = LibPcap.pcap_open_dead(LibPcap.DLT_EN10MB, snaplen);
        if (pcap == 0)
        {
            throw new InvalidOperationException("pcap_open_dead failed");
        }

        try
        {
            LibPcap.BpfProgram program;
            if (LibPcap.pcap_compile(pcap, &program, expression, 1, LibPcap.PCAP_NETMASK_UNKNOWN) != 0)
            {
                string message = Marshal.PtrToStringUTF8(LibPcap.pcap_geterr(pcap)) ?? "does not compile";
                throw new FormatException(message);
            }

            filter._program = program;
            filter._compiled = true;
            return filter;
        }
        finally
        {
            LibPcap.pcap_close(pcap);
        }
    }

    /// <summary>Checks the filter's syntax; null when it compiles, else libpcap's message.</summary>
    public static string? Check(string expression)
    {
        try
        {
            using var filter = Compile(expression);
            return null;
        }
        catch (FormatException e)
        {
            return e.Message;
        }
    }

    public bool Matches(ReadOnlySpan<byte> frame, int originalLength)
    {
        fixed (byte* p = frame)
        {
            return LibPcap.bpf_filter(_program.Instructions, p, (uint)Math.Max(originalLength, frame.Length), (uint)frame.Length) != 0;
        }
    }

    public void Dispose()
    {
        if (_compiled)
        {
            _compiled = false;
            fixed (LibPcap.BpfProgram* program = &_program)
            {
                LibPcap.pcap_freecode(program);
            }
        }
    }
}
