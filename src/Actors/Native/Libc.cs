using System.Runtime.InteropServices;

namespace Fabric.Actors.Native;

/// <summary>The few libc calls the data plane needs (Linux only).</summary>
internal static unsafe partial class Libc
{
    public const int O_RDWR = 2;
    public const int O_NONBLOCK = 0x800;
    public const int O_CLOEXEC = 0x80000;
    public const int EINTR = 4;
    public const int EAGAIN = 11;
    public const int ENODEV = 19;
    public const int EINVAL = 22;
    public const int EBADFD = 77;
    public const int EIO = 5;

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint write(int fd, byte* buffer, nint count);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int ioctl(int fd, nuint request, void* argument);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int ioctl(int fd, nuint request, nint argument);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int gettid();

    [LibraryImport("libc", SetLastError = true)]
    public static partial int sched_setaffinity(int pid, nint cpuSetSize, ulong* mask);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int sched_getaffinity(int pid, nint cpuSetSize, ulong* mask);

    public const int PRIO_PROCESS = 0;

    /// <summary>setpriority(2): with <see cref="PRIO_PROCESS"/> and a thread id (gettid), the nice value of that
    /// one thread on Linux.</summary>
    [LibraryImport("libc", SetLastError = true)]
    public static partial int setpriority(int which, uint who, int prio);

    /// <summary>getpriority(2): -1 is a valid result; clear errno (Marshal.SetLastPInvokeError(0)) to tell it from a failure.</summary>
    [LibraryImport("libc", SetLastError = true)]
    public static partial int getpriority(int which, uint who);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int poll(PollFd* fds, nuint count, int timeoutMs);

    [LibraryImport("libc")]
    private static partial nint strerror(int errnum);

    public const short POLLIN = 0x1;

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    public static string ErrorText(int errno) => Marshal.PtrToStringUTF8(strerror(errno)) ?? $"errno {errno}";
}
