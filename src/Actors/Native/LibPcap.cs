using System.Runtime.InteropServices;

namespace Fabric.Actors.Native;

/// <summary>libpcap's BPF compiler and interpreter, for filters applied to inner (decapsulated) frames.</summary>
internal static unsafe partial class LibPcap
{
    private const string Library = "libpcap.so.0.8";

    public const int DLT_EN10MB = 1;
    public const uint PCAP_NETMASK_UNKNOWN = 0xffffffff;

    [LibraryImport(Library)]
    public static partial nint pcap_open_dead(int linktype, int snaplen);

    [LibraryImport(Library)]
    public static partial void pcap_close(nint pcap);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int pcap_compile(nint pcap, BpfProgram* program, string filter, int optimize, uint netmask);

    [LibraryImport(Library)]
    public static partial nint pcap_geterr(nint pcap);

    [LibraryImport(Library)]
    public static partial void pcap_freecode(BpfProgram* program);

    /// <summary>A descriptor that poll() reports readable when packets (or an error) are waiting.</summary>
    [LibraryImport(Library)]
    public static partial int pcap_get_selectable_fd(nint pcap);

    /// <summary>Runs a compiled program over one packet; non-zero when it matches.</summary>
    [LibraryImport(Library)]
    public static partial uint bpf_filter(nint instructions, byte* packet, uint wireLength, uint capturedLength);

    /// <summary>libpcap's counters. Called directly: SharpPcap 6.3.1 declares struct pcap_stat with
    /// pointer-sized fields on Unix, so its DroppedPackets is really ps_ifdrop.</summary>
    [LibraryImport(Library)]
    public static partial int pcap_stats(nint pcap, PcapStat* stats);

    /// <summary>struct pcap_stat on Linux: three u_int.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct PcapStat
    {
        public uint Received;
        public uint Dropped;
        public uint InterfaceDropped;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct BpfProgram
    {
        public uint Length;
        public nint Instructions;
    }
}
