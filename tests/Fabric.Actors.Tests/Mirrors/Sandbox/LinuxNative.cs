using System.Runtime.InteropServices;

namespace Fabric.Actors.Tests.Mirrors.Sandbox;

/// <summary>The few libc calls the sandbox needs to play a VM (tun fd) or a host (AF_PACKET socket).</summary>
internal static partial class LinuxNative
{
    public const int ORdWr = 0x2;
    public const int ONonBlock = 0x800;
    /// <summary>O_CLOEXEC / SOCK_CLOEXEC: processes the tests start (ovsdb-server, ovs-vswitchd, ip) must not inherit
    /// a tap's fd, or the tap stays attached (EBUSY on the next TUNSETIFF) for as long as they live.</summary>
    public const int OCloExec = 0x80000;
    public const uint TunSetIff = 0x400454ca;
    public const short IffTap = 0x0002;
    public const short IffNoPi = 0x1000;
    public const int AfPacket = 17;
    public const int SockRaw = 3;
    public const ushort EthPAll = 0x0003;
    public const short PollIn = 0x1;

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short REvents;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct SockAddrLl
    {
        public ushort Family;
        public ushort Protocol;
        public int IfIndex;
        public ushort HaType;
        public byte PktType;
        public byte HaLen;
        public ulong Addr;
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    public static unsafe partial int Ioctl(int fd, nuint request, byte* argument);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    public static unsafe partial nint Read(int fd, byte* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    public static unsafe partial nint Write(int fd, byte* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    public static unsafe partial int Poll(PollFd* fds, nuint count, int timeoutMs);

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    public static partial int Socket(int domain, int type, int protocol);

    [LibraryImport("libc", EntryPoint = "bind", SetLastError = true)]
    public static unsafe partial int Bind(int fd, SockAddrLl* address, int length);

    [LibraryImport("libc", EntryPoint = "if_nametoindex", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial uint IfNameToIndex(string name);

    public static ushort HostToNetwork(ushort value) => (ushort)((value << 8) | (value >> 8));

    public static unsafe bool WaitReadable(int fd, TimeSpan timeout)
    {
        var p = new PollFd { Fd = fd, Events = PollIn };
        var ms = (int)Math.Clamp(timeout.TotalMilliseconds, 0, int.MaxValue);
        var r = Poll(&p, 1, ms);
        return r > 0 && (p.REvents & PollIn) != 0;
    }
}

/// <summary>
/// A file descriptor that sends and receives whole Ethernet frames: the VM side of a tap
/// (<see cref="OpenTap"/>) or an AF_PACKET socket bound to an interface (<see cref="OpenPacketSocket"/>).
/// </summary>
internal sealed class FrameEndpoint : IDisposable
{
    private int _fd;

    private FrameEndpoint(int fd, string name)
    {
        _fd = fd;
        Name = name;
    }

    public string Name { get; }

    /// <summary>Attaches to an existing persistent tap as the VM would (TUNSETIFF, IFF_TAP | IFF_NO_PI).</summary>
    public static unsafe FrameEndpoint OpenTap(string name)
    {
        var fd = LinuxNative.Open("/dev/net/tun", LinuxNative.ORdWr | LinuxNative.ONonBlock | LinuxNative.OCloExec);
        if (fd < 0)
        {
            throw new InvalidOperationException($"open /dev/net/tun: errno {Marshal.GetLastPInvokeError()}");
        }

        var ifr = stackalloc byte[40];
        new Span<byte>(ifr, 40).Clear();
        var nameBytes = global::System.Text.Encoding.ASCII.GetBytes(name);
        nameBytes.CopyTo(new Span<byte>(ifr, 16));
        *(short*)(ifr + 16) = LinuxNative.IffTap | LinuxNative.IffNoPi;
        if (LinuxNative.Ioctl(fd, LinuxNative.TunSetIff, ifr) < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            LinuxNative.Close(fd);
            throw new InvalidOperationException($"TUNSETIFF {name}: errno {errno}");
        }

        return new FrameEndpoint(fd, name);
    }

    /// <summary>A raw AF_PACKET socket on <paramref name="name"/> (sends out of it, receives what it receives).</summary>
    public static unsafe FrameEndpoint OpenPacketSocket(string name)
    {
        var protocol = LinuxNative.HostToNetwork(LinuxNative.EthPAll);
        var fd = LinuxNative.Socket(LinuxNative.AfPacket, LinuxNative.SockRaw | LinuxNative.ONonBlock | LinuxNative.OCloExec, protocol);
        if (fd < 0)
        {
            throw new InvalidOperationException($"socket(AF_PACKET): errno {Marshal.GetLastPInvokeError()}");
        }

        var index = LinuxNative.IfNameToIndex(name);
        var address = new LinuxNative.SockAddrLl { Family = LinuxNative.AfPacket, Protocol = protocol, IfIndex = (int)index };
        if (index == 0 || LinuxNative.Bind(fd, &address, sizeof(LinuxNative.SockAddrLl)) < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            LinuxNative.Close(fd);
            throw new InvalidOperationException($"bind AF_PACKET to {name}: errno {errno}");
        }

        return new FrameEndpoint(fd, name);
    }

    public unsafe void Send(ReadOnlySpan<byte> frame)
    {
        fixed (byte* p = frame)
        {
            if (LinuxNative.Write(_fd, p, (nuint)frame.Length) != frame.Length)
            {
                throw new InvalidOperationException($"write to {Name}: errno {Marshal.GetLastPInvokeError()}");
            }
        }
    }

    /// <summary>Drops everything queued so far.</summary>
    public void Drain()
    {
        var buffer = new byte[65536];
        while (TryReceive(buffer, TimeSpan.Zero, out _))
        {
        }
    }

    /// <summary>Receives one frame within <paramref name="timeout"/>.</summary>
    public unsafe bool TryReceive(byte[] buffer, TimeSpan timeout, out int length)
    {
        length = 0;
        if (!LinuxNative.WaitReadable(_fd, timeout))
        {
            return false;
        }

        fixed (byte* p = buffer)
        {
            var n = LinuxNative.Read(_fd, p, (nuint)buffer.Length);
            if (n <= 0)
            {
                return false;
            }

            length = (int)n;
            return true;
        }
    }

    /// <summary>Waits until a frame containing <paramref name="marker"/> arrives.</summary>
    public bool WaitForFrameWith(ReadOnlySpan<byte> marker, TimeSpan timeout)
    {
        var buffer = new byte[65536];
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                return false;
            }

            if (TryReceive(buffer, left, out var n) && buffer.AsSpan(0, n).IndexOf(marker) >= 0)
            {
                return true;
            }
        }
    }

    public void Dispose()
    {
        if (_fd >= 0)
        {
            LinuxNative.Close(_fd);
            _fd = -1;
        }
    }
}

/// <summary>Test frames: Ethernet with the local experimental EtherType 0x88b5 and a marker in the payload.</summary>
internal static class TestFrames
{
    public static byte[] Build(ReadOnlySpan<byte> destination, ReadOnlySpan<byte> source, ReadOnlySpan<byte> marker)
    {
        var frame = new byte[Math.Max(60, 14 + marker.Length)];
        destination.CopyTo(frame);
        source.CopyTo(frame.AsSpan(6));
        frame[12] = 0x88;
        frame[13] = 0xb5;
        marker.CopyTo(frame.AsSpan(14));
        return frame;
    }

    public static byte[] NewMarker() => Guid.NewGuid().ToByteArray();

    /// <summary>A locally administered unicast MAC.</summary>
    public static byte[] Mac(byte last) => [0x02, 0xfa, 0xb0, 0x00, 0x00, last];
}
