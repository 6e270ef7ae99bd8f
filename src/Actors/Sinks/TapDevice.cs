using System.Runtime.InteropServices;
using Fabric.Actors.Native;

namespace Fabric.Actors.Sinks;

/// <summary>
/// A Linux TAP device opened through /dev/net/tun (IFF_TAP | IFF_NO_PI): frames written to it are received by
/// the kernel as if they arrived on a NIC, so Arkime, Suricata and Zeek read it like one. The device is made
/// persistent (it survives Fabric), brought up with the configured MTU, and IPv6 is disabled on it so the
/// kernel sends nothing of its own.
/// </summary>
public sealed unsafe class TapDevice : IDisposable
{
    private const nuint TUNSETIFF = 0x400454ca;
    private const nuint TUNSETPERSIST = 0x400454cb;
    private const nuint TUNGETIFF = 0x800454d2;
    private const nuint SIOCGIFFLAGS = 0x8913;
    private const nuint SIOCSIFFLAGS = 0x8914;
    private const nuint SIOCSIFMTU = 0x8922;
    private const short IFF_TAP = 0x0002;
    private const short IFF_NO_PI = 0x1000;
    private const short IFF_UP = 0x1;
    private const int AF_INET = 2;
    private const int SOCK_DGRAM = 2;
    private const int IfNameSize = 16;

    private int _fd;

    private TapDevice(string name, int fd)
    {
        Name = name;
        _fd = fd;
    }

    public string Name { get; }

    public bool IsOpen => _fd >= 0;

    /// <summary>Maximum interface name length (IFNAMSIZ - 1).</summary>
    public const int MaxNameLength = IfNameSize - 1;

    /// <summary>Creates (or attaches to) the TAP device, makes it persistent, disables IPv6, sets the MTU and
    /// brings it up. Throws <see cref="TapDeviceException"/> naming the step that failed.</summary>
    public static TapDevice Open(string name, int mtu, bool persistent = true)
    {
        if (name.Length is 0 or > MaxNameLength)
        {
            throw new TapDeviceException(name, "open", Libc.EINVAL);
        }

        int fd = Libc.open("/dev/net/tun", Libc.O_RDWR | Libc.O_CLOEXEC);
        if (fd < 0)
        {
            throw new TapDeviceException(name, "open /dev/net/tun", Marshal.GetLastPInvokeError());
        }

        var device = new TapDevice(name, fd);
        try
        {
            IfReq request = IfReq.For(name);
            request.Flags = IFF_TAP | IFF_NO_PI;
            if (Libc.ioctl(fd, TUNSETIFF, &request) < 0)
            {
                throw new TapDeviceException(name, "TUNSETIFF", Marshal.GetLastPInvokeError());
            }

            if (Libc.ioctl(fd, TUNSETPERSIST, persistent ? 1 : 0) < 0)
            {
                throw new TapDeviceException(name, "TUNSETPERSIST", Marshal.GetLastPInvokeError());
            }

            DisableIpv6(name);
            Configure(name, mtu);
            return device;
        }
        catch
        {
            device.Dispose();
            throw;
        }
    }

    /// <summary>Writes one frame. Returns 0 on success or the errno (EBADFD: the device was deleted;
    /// EIO: it is down).</summary>
    public int Write(ReadOnlySpan<byte> frame)
    {
        fixed (byte* p = frame)
        {
            nint written = Libc.write(_fd, p, frame.Length);
            return written < 0 ? Marshal.GetLastPInvokeError() : 0;
        }
    }

    /// <summary>Writes frames <paramref name="start"/> .. start + count - 1 of <paramref name="batch"/> through
    /// <paramref name="ring"/> and sets <paramref name="errnos"/>[k] (for frame start + k) to 0 or the errno, as
    /// <see cref="Write"/> would. Returns how many frames have their result: fewer only when the ring failed
    /// (<paramref name="ringErrno"/>), and the caller writes the rest one by one.</summary>
    internal int WriteBatch(WriteRing ring, DataPlane.PacketBatch batch, int start, int count, Span<int> errnos, out int ringErrno)
    {
        fixed (byte* buffer = batch.Buffer)
        {
            return ring.Write(_fd, buffer, batch.Offsets.AsSpan(start, count), batch.CapturedLengths.AsSpan(start, count), errnos, out ringErrno);
        }
    }

    /// <summary>False once the device behind this descriptor was deleted (TUNGETIFF fails with EBADFD: the queue
    /// is detached). A device moved to another network namespace is still attached.</summary>
    public bool IsAttached()
    {
        if (_fd < 0)
        {
            return false;
        }

        IfReq request = default;
        return Libc.ioctl(_fd, TUNGETIFF, &request) >= 0 || !IsDeviceGone(Marshal.GetLastPInvokeError());
    }

    /// <summary>True when a write error means the device is gone and must be re-created.</summary>
    public static bool IsDeviceGone(int errno) => errno is Libc.EBADFD or Libc.ENODEV;

    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            Libc.close(fd);
        }
    }

    private static void DisableIpv6(string name)
    {
        string path = $"/proc/sys/net/ipv6/conf/{name}/disable_ipv6";
        if (File.Exists(path))
        {
            File.WriteAllText(path, "1");
        }
    }

    private static void Configure(string name, int mtu)
    {
        int socket = Libc.socket(AF_INET, SOCK_DGRAM, 0);
        if (socket < 0)
        {
            throw new TapDeviceException(name, "socket", Marshal.GetLastPInvokeError());
        }

        try
        {
            IfReq request = IfReq.For(name);
            request.Value = mtu;
            if (Libc.ioctl(socket, SIOCSIFMTU, &request) < 0)
            {
                throw new TapDeviceException(name, $"SIOCSIFMTU {mtu}", Marshal.GetLastPInvokeError());
            }

            request = IfReq.For(name);
            if (Libc.ioctl(socket, SIOCGIFFLAGS, &request) < 0)
            {
                throw new TapDeviceException(name, "SIOCGIFFLAGS", Marshal.GetLastPInvokeError());
            }

            request.Flags |= IFF_UP;
            if (Libc.ioctl(socket, SIOCSIFFLAGS, &request) < 0)
            {
                throw new TapDeviceException(name, "SIOCSIFFLAGS up", Marshal.GetLastPInvokeError());
            }
        }
        finally
        {
            Libc.close(socket);
        }
    }

    /// <summary>struct ifreq: the name, then a union (flags as short, mtu as int); 40 bytes on x86-64.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 40)]
    private struct IfReq
    {
        [FieldOffset(0)]
        public fixed byte Name[IfNameSize];

        [FieldOffset(IfNameSize)]
        public short Flags;

        [FieldOffset(IfNameSize)]
        public int Value;

        public static IfReq For(string name)
        {
            IfReq request = default;
            for (int i = 0; i < name.Length && i < MaxNameLength; i++)
            {
                request.Name[i] = (byte)name[i];
            }

            return request;
        }
    }
}

/// <summary>A TAP device operation failed; the message names the device, the step and the errno text.</summary>
public sealed class TapDeviceException : Exception
{
    public TapDeviceException(string device, string step, int errno)
        : base($"TAP {device}: {step} failed: {Libc.ErrorText(errno)}")
    {
        Errno = errno;
    }

    public int Errno { get; }
}
