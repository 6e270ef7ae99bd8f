using System.Runtime.InteropServices;

namespace Fabric.Actors.Native;

/// <summary>
/// An io_uring (raw syscalls, no liburing) that writes a batch of frames to one descriptor with one
/// <c>io_uring_enter</c> per <see cref="Entries"/> frames instead of one <c>write()</c> each, and reads every frame's
/// own result back, so a frame that could not be written is still counted. Used by the TAP sink: a TAP takes one
/// frame per write and has no call that takes several (bench/tap_variants.c measures the alternatives), and the
/// syscall entry and exit is what io_uring saves. TUN/TAP descriptors accept IOCB_NOWAIT, so the writes run inline
/// during submission, in submission order. One thread at a time.
/// </summary>
/// <remarks>Layout of the rings and entries: include/uapi/linux/io_uring.h (x86-64 and arm64 alike).</remarks>
internal sealed unsafe partial class WriteRing : IDisposable
{
    /// <summary>Submission entries: frames per io_uring_enter.</summary>
    public const int Entries = 256;

    private const long SysIoUringSetup = 425;
    private const long SysIoUringEnter = 426;
    private const uint IoringEnterGetEvents = 1;
    private const byte IoringOpWrite = 23;
    private const long IoringOffSqRing = 0;
    private const long IoringOffCqRing = 0x8000000;
    private const long IoringOffSqes = 0x10000000;
    private const int ProtReadWrite = 3;
    private const int MapSharedPopulate = 0x01 | 0x8000;
    private const int EBUSY = 16;

    private readonly int _ring;
    private readonly byte* _sq;
    private readonly nuint _sqSize;
    private readonly byte* _cq;
    private readonly nuint _cqSize;
    private readonly Sqe* _sqes;
    private readonly nuint _sqesSize;
    private readonly uint* _sqTail;
    private readonly uint* _sqHead;
    private readonly uint _sqMask;
    private readonly uint* _sqArray;
    private readonly uint _sqEntries;
    private readonly uint* _cqHead;
    private readonly uint* _cqTail;
    private readonly uint _cqMask;
    private readonly Cqe* _cqes;
    private bool _disposed;

    private WriteRing(int ring, in Params p, byte* sq, nuint sqSize, byte* cq, nuint cqSize, Sqe* sqes, nuint sqesSize)
    {
        _ring = ring;
        _sq = sq;
        _sqSize = sqSize;
        _cq = cq;
        _cqSize = cqSize;
        _sqes = sqes;
        _sqesSize = sqesSize;
        _sqHead = (uint*)(sq + p.SqHead);
        _sqTail = (uint*)(sq + p.SqTail);
        _sqMask = *(uint*)(sq + p.SqRingMask);
        _sqArray = (uint*)(sq + p.SqArray);
        _sqEntries = p.SqEntries;
        _cqHead = (uint*)(cq + p.CqHead);
        _cqTail = (uint*)(cq + p.CqTail);
        _cqMask = *(uint*)(cq + p.CqRingMask);
        _cqes = (Cqe*)(cq + p.CqCqes);
    }

    /// <summary>A ring, or null with the errno when the kernel refuses one (ENOSYS: no io_uring; EPERM: disabled by
    /// kernel.io_uring_disabled or a seccomp filter; ENOMEM: locked-memory limit).</summary>
    public static WriteRing? TryCreate(out int errno)
    {
        Params p = default;
        long ring = syscall(SysIoUringSetup, Entries, (long)&p, 0, 0, 0, 0);
        if (ring < 0)
        {
            errno = Marshal.GetLastPInvokeError();
            return null;
        }

        int fd = (int)ring;
        nuint sqSize = p.SqArray + p.SqEntries * sizeof(uint);
        nuint cqSize = p.CqCqes + p.CqEntries * (nuint)sizeof(Cqe);
        nuint sqesSize = p.SqEntries * (nuint)sizeof(Sqe);
        byte* sq = (byte*)mmap(null, sqSize, ProtReadWrite, MapSharedPopulate, fd, IoringOffSqRing);
        byte* cq = (byte*)mmap(null, cqSize, ProtReadWrite, MapSharedPopulate, fd, IoringOffCqRing);
        byte* sqes = (byte*)mmap(null, sqesSize, ProtReadWrite, MapSharedPopulate, fd, IoringOffSqes);
        if (sq == (byte*)-1 || cq == (byte*)-1 || sqes == (byte*)-1)
        {
            errno = Marshal.GetLastPInvokeError();
            Unmap(sq, sqSize);
            Unmap(cq, cqSize);
            Unmap(sqes, sqesSize);
            Libc.close(fd);
            return null;
        }

        errno = 0;
        return new WriteRing(fd, p, sq, sqSize, cq, cqSize, (Sqe*)sqes, sqesSize);
    }

    /// <summary>
    /// Writes frame <c>i</c> (<paramref name="lengths"/>[i] bytes at <paramref name="buffer"/> +
    /// <paramref name="offsets"/>[i]) to <paramref name="fd"/>, in order, and sets <paramref name="errnos"/>[i] to 0
    /// or the write's errno. Returns how many frames, from the first, have their result; fewer than all only when
    /// the ring itself failed (<paramref name="ringErrno"/> then says why, and the caller writes the rest another
    /// way). Every frame submitted has completed when this returns, so the buffer may be reused at once.
    /// </summary>
    public int Write(int fd, byte* buffer, ReadOnlySpan<int> offsets, ReadOnlySpan<int> lengths, Span<int> errnos, out int ringErrno)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ringErrno = 0;
        int count = offsets.Length;
        int done = 0;
        while (done < count)
        {
            int n = Math.Min(count - done, (int)_sqEntries);
            uint tail = *_sqTail;
            for (int j = 0; j < n; j++)
            {
                uint slot = (tail + (uint)j) & _sqMask;
                Sqe* entry = _sqes + slot;
                *entry = default;
                entry->Opcode = IoringOpWrite;
                entry->Fd = fd;
                entry->Off = ulong.MaxValue; // the file position: a TAP has none
                entry->Addr = (ulong)(buffer + offsets[done + j]);
                entry->Len = (uint)lengths[done + j];
                entry->UserData = (ulong)(done + j);
                _sqArray[slot] = slot;
            }

            Volatile.Write(ref *_sqTail, tail + (uint)n);

            // One enter submits what is left and waits for every completion. The kernel returns early, without
            // waiting, when it took fewer entries than offered; the loop then offers the rest again.
            int submitted = 0, completed = 0, idle = 0;
            while (completed < n)
            {
                long r = syscall(SysIoUringEnter, _ring, n - submitted, n - completed, IoringEnterGetEvents, 0, 0);
                int error = r < 0 ? Marshal.GetLastPInvokeError() : 0;
                if (r > 0)
                {
                    submitted += (int)r;
                }

                int reaped = Reap(errnos);
                completed += reaped;
                idle = r > 0 || reaped > 0 ? 0 : idle + 1;
                if ((error != 0 && error is not (Libc.EINTR or Libc.EAGAIN or EBUSY)) || idle > 1000)
                {
                    // The ring is failing: take back what the kernel did not consume, wait for what it did, and
                    // let the caller write the rest.
                    uint head = Volatile.Read(ref *_sqHead);
                    Volatile.Write(ref *_sqTail, head);
                    submitted = (int)(head - tail);
                    for (int tries = 0; completed < submitted && tries < 1000; tries++)
                    {
                        syscall(SysIoUringEnter, _ring, 0, submitted - completed, IoringEnterGetEvents, 0, 0);
                        completed += Reap(errnos);
                    }

                    ringErrno = error != 0 ? error : Libc.EAGAIN;
                    return done + Math.Min(completed, submitted);
                }
            }

            done += n;
        }

        return done;
    }

    /// <summary>Reads every completion there is into <paramref name="errnos"/> (by the frame index each carries).</summary>
    private int Reap(Span<int> errnos)
    {
        uint head = *_cqHead;
        uint tail = Volatile.Read(ref *_cqTail);
        int seen = 0;
        for (; head != tail; head++, seen++)
        {
            Cqe* completion = _cqes + (head & _cqMask);
            errnos[(int)completion->UserData] = completion->Res < 0 ? -completion->Res : 0;
        }

        Volatile.Write(ref *_cqHead, head);
        return seen;
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Unmap(_sq, _sqSize);
        Unmap(_cq, _cqSize);
        Unmap((byte*)_sqes, _sqesSize);
        Libc.close(_ring);
    }

    private static void Unmap(byte* address, nuint size)
    {
        if (address != null && address != (byte*)-1)
        {
            munmap(address, size);
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial long syscall(long number, long a1, long a2, long a3, long a4, long a5, long a6);

    [LibraryImport("libc", SetLastError = true)]
    private static partial void* mmap(void* address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int munmap(void* address, nuint length);

    /// <summary>struct io_uring_params with its io_sqring_offsets and io_cqring_offsets, flattened (120 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct Params
    {
        public uint SqEntries, CqEntries, Flags, SqThreadCpu, SqThreadIdle, Features, WqFd, Resv0, Resv1, Resv2;
        public uint SqHead, SqTail, SqRingMask, SqRingEntries, SqFlags, SqDropped, SqArray, SqResv1;
        public ulong SqUserAddr;
        public uint CqHead, CqTail, CqRingMask, CqRingEntries, CqOverflow, CqCqes, CqFlags, CqResv1;
        public ulong CqUserAddr;
    }

    /// <summary>struct io_uring_sqe (64 bytes); only what a write uses is named.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 64)]
    private struct Sqe
    {
        [FieldOffset(0)] public byte Opcode;
        [FieldOffset(4)] public int Fd;
        [FieldOffset(8)] public ulong Off;
        [FieldOffset(16)] public ulong Addr;
        [FieldOffset(24)] public uint Len;
        [FieldOffset(32)] public ulong UserData;
    }

    /// <summary>struct io_uring_cqe (16 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct Cqe
    {
        public ulong UserData;
        public int Res;
        public uint Flags;
    }
}
