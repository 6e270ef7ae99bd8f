using System.Globalization;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Fabric.Actors.DataPlane;
using Fabric.Actors.Sinks;
using Fabric.Protocols.Pcap;
using Fabric.Tests;
using Xunit;

namespace Fabric.Actors.Tests.Sinks;

/// <summary>
/// The PCAP sink on a full file system: a real tmpfs (needs root), mounted on a directory of the test and
/// unmounted afterwards, also when the test fails.
/// </summary>
public sealed class PcapSinkActorTests : TestKit
{
    private readonly string _root = Directory.CreateTempSubdirectory("fpk-sink-").FullName;
    private readonly string _mount;
    private bool _mounted;

    public PcapSinkActorTests()
    {
        _mount = Path.Combine(_root, "fpk" + Random.Shared.Next(0x1000, 0xFFFF).ToString("x4", CultureInfo.InvariantCulture));
        Directory.CreateDirectory(_mount);
        var mount = ExternalTool.Run("mount", "-t", "tmpfs", "-o", "size=256k", "fpk-sink", _mount);
        if (mount.ExitCode != 0)
        {
            Directory.Delete(_root, recursive: true);
            throw new InvalidOperationException($"mount tmpfs on {_mount}: {mount.Stderr}");
        }

        _mounted = true;
    }

    [Fact]
    public void A_full_disk_stalls_the_sink_counts_disk_full_leaves_only_whole_records_and_writing_resumes_when_space_returns()
    {
        var settings = new PcapSinkSettings
        {
            Stage = "pcap-0",
            // Spelled with a double slash: retention must still recognise the file being written.
            Directory = _mount.Replace("/fpk", "//fpk", StringComparison.Ordinal),
            Prefix = "t",
            RotateSize = 0,
            RotateInterval = null,
            KeepSize = 1,
            WriteBufferBytes = 16 * 1024,
            FlushInterval = TimeSpan.FromMilliseconds(50),
        };
        var (sink, queue, counters) = StartSink(settings);

        // 256 KiB hold about 250 records of 1000 bytes: the sink stalls.
        FillUntilDiskFull(queue, counters);
        var stalled = counters.Snapshot();
        Assert.Equal(1, stalled.Events["stalls"]);
        Assert.Equal(0, stalled.Dropped["write-error"].Packets);
        Assert.Equal(0, stalled.Events["files-removed"]);
        string file = Assert.Single(Directory.GetFiles(_mount, "t-*.pcap"));
        Assert.True(new FileInfo(file).Length > settings.KeepSize);
        Assert.Equal(CaptureReadStatus.EndOfFile, ReadAll(file, out _));

        // Space returns: the sink writes again by itself (its retry), in the same file.
        Assert.Equal(0, ExternalTool.Run("mount", "-o", "remount,size=2m", _mount).ExitCode);
        long outBefore = counters.Snapshot().Out.Packets;
        AwaitAssert(() =>
        {
            Post(queue);
            Assert.True(counters.Snapshot().Out.Packets > outBefore);
        }, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(100));
        Assert.Equal(file, Assert.Single(Directory.GetFiles(_mount, "t-*.pcap")));

        AwaitAssert(() => Assert.Equal(0, queue.Pending));
        Sys.Stop(sink);
        ExpectTerminated(sink);
        var final = counters.Snapshot();
        Assert.True(final.Balanced);
        Assert.Equal(final.In.Packets, final.Out.Packets + final.Dropped["disk-full"].Packets);
        Assert.Equal(CaptureReadStatus.EndOfFile, ReadAll(file, out long records));
        Assert.Equal(final.Out.Packets, records);
    }

    [Fact]
    public void Stopped_while_the_disk_is_still_full_the_held_records_move_from_out_to_disk_full_and_the_file_stays_whole()
    {
        var settings = new PcapSinkSettings
        {
            Stage = "pcap-0",
            Directory = _mount,
            Prefix = "s",
            RotateSize = 0,
            RotateInterval = null,
            WriteBufferBytes = 16 * 1024,
            FlushInterval = TimeSpan.FromMilliseconds(50),
        };
        var (sink, queue, counters) = StartSink(settings);
        FillUntilDiskFull(queue, counters);
        AwaitAssert(() => Assert.Equal(0, queue.Pending));

        Sys.Stop(sink);
        ExpectTerminated(sink);

        var final = counters.Snapshot();
        Assert.True(final.Balanced);
        Assert.Equal(final.In.Packets, final.Out.Packets + final.Dropped["disk-full"].Packets);
        string file = Assert.Single(Directory.GetFiles(_mount, "s-*.pcap"));
        Assert.Equal(CaptureReadStatus.EndOfFile, ReadAll(file, out long records));
        Assert.Equal(final.Out.Packets, records);
    }

    [Fact]
    public void Retention_never_removes_the_current_file_however_its_path_is_spelled()
    {
        string directory = Path.Combine(_root, "retention");
        Directory.CreateDirectory(directory);
        var now = DateTime.UtcNow;
        string older = PcapFiles.NewPath(directory, "p", now.AddMinutes(-2));
        string current = PcapFiles.NewPath(directory, "p", now);
        File.WriteAllBytes(older, new byte[4096]);
        File.WriteAllBytes(current, new byte[4096]);

        int removed = PcapFiles.Enforce(directory + "/", "p", current.Replace(directory, directory + "//./", StringComparison.Ordinal), keepBytes: 1, keepAge: null, now);

        Assert.Equal(1, removed);
        Assert.Equal([current], Directory.GetFiles(directory, "p-*.pcap"));
    }


    private (IActorRef Sink, BatchQueue Queue, StageCounters Counters) StartSink(PcapSinkSettings settings)
    {
        var counters = new StageCounters(settings.Stage, PcapSinkActor.DropReasons, PcapSinkActor.EventNames);
        var queue = new BatchQueue(1000);
        var sink = Sys.ActorOf(PcapSinkActor.Props(settings, queue, counters), "sink-0");
        queue.Target = sink;
        Watch(sink);
        return (sink, queue, counters);
    }

    /// <summary>Posts batches until the sink counts a disk-full drop (the small tmpfs is full).</summary>
    private void FillUntilDiskFull(BatchQueue queue, StageCounters counters) =>
        AwaitAssert(() =>
        {
            Post(queue);
            Assert.True(counters.Snapshot().Dropped["disk-full"].Packets > 0);
        }, TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(20));
    private static void Post(BatchQueue queue)
    {
        var batch = PacketBatch.CreateUnpooled(16, 64 * 1024);
        var frame = new byte[1000];
        for (int i = 0; i < 16; i++)
        {
            frame[0] = (byte)i;
            Assert.True(batch.TryAppend(frame, frame.Length, 1_700_000_000_000_000_000L + i));
        }

        batch.SetReferences(1);
        Assert.True(queue.TryPost(batch));
    }

    private static CaptureReadStatus ReadAll(string file, out long records)
    {
        using var reader = CaptureFileReader.Open(file);
        records = 0;
        CaptureReadStatus status;
        while ((status = reader.ReadNext(out _)) == CaptureReadStatus.Packet)
        {
            records++;
        }

        return status;
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing && _mounted)
        {
            if (ExternalTool.Run("umount", _mount).ExitCode != 0)
            {
                ExternalTool.Run("umount", "-l", _mount);
            }

            _mounted = false;
            Directory.Delete(_root, recursive: true);
        }
    }
}
