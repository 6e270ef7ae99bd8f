using System.Globalization;
using Fabric.Protocols.Pcap;

namespace Fabric.Actors.Sinks;

/// <summary>
/// The files of one PCAP sink: naming (<c>&lt;prefix&gt;-&lt;UTC timestamp&gt;.pcap</c>, which sorts by time),
/// crash repair (a torn last record is trimmed, a file without a whole header removed) and retention.
/// </summary>
public static class PcapFiles
{
    private const string TimestampFormat = "yyyyMMdd'T'HHmmss.ffffff'Z'";

    /// <summary>A new file name for <paramref name="now"/>; when that name is taken (two files within a
    /// microsecond), the next free microsecond, so names always sort in creation order.</summary>
    public static string NewPath(string directory, string prefix, DateTime now, string extension = ".pcap")
    {
        var time = now.ToUniversalTime();
        while (true)
        {
            string path = Path.Combine(directory, $"{prefix}-{time.ToString(TimestampFormat, CultureInfo.InvariantCulture)}{extension}");
            if (!File.Exists(path))
            {
                return path;
            }

            time = time.AddTicks(10);
        }
    }

    /// <summary>The sink's files, oldest first.</summary>
    public static IReadOnlyList<FileInfo> List(string directory, string prefix, string extension = ".pcap")
    {
        if (!Directory.Exists(directory))
        {
            return [];
        }

        return [.. new DirectoryInfo(directory).GetFiles(prefix + "-*" + extension)
            .Where(f => IsOurs(f.Name, prefix) && f.Name.EndsWith(extension, StringComparison.Ordinal))
            .OrderBy(f => f.Name, StringComparer.Ordinal)];
    }

    /// <summary>
    /// Makes every file readable again after a crash: a file that ends inside a record is cut back to its last
    /// whole record; a file too short for its header is removed. Returns what was done, one line per file.
    /// </summary>
    public static IReadOnlyList<string> Repair(string directory, string prefix, string extension = ".pcap")
    {
        var done = new List<string>();
        foreach (var file in List(directory, prefix, extension))
        {
            if (file.Length < PcapWriter.FileHeaderLength)
            {
                file.Delete();
                done.Add($"{file.Name}: removed ({file.Length} bytes, no complete header)");
                continue;
            }

            long good;
            try
            {
                using var reader = CaptureFileReader.Open(file.FullName);
                good = reader.Position;
                CaptureReadStatus status;
                while ((status = reader.ReadNext(out _)) == CaptureReadStatus.Packet)
                {
                    good = reader.Position;
                }

                if (status == CaptureReadStatus.EndOfFile)
                {
                    continue;
                }
            }
            catch (CaptureFileException)
            {
                file.Delete();
                done.Add($"{file.Name}: removed (unreadable header)");
                continue;
            }

            using (var stream = new FileStream(file.FullName, FileMode.Open, FileAccess.Write))
            {
                stream.SetLength(good);
            }

            done.Add($"{file.Name}: torn last record trimmed ({file.Length} -> {good} bytes)");
        }

        return done;
    }

    /// <summary>Removes the oldest files (never <paramref name="current"/>) while the total exceeds
    /// <paramref name="keepBytes"/> (0: no limit) and every file older than <paramref name="keepAge"/>.
    /// Returns the number of files removed.</summary>
    public static int Enforce(string directory, string prefix, string? current, long keepBytes, TimeSpan? keepAge, DateTime now,
        string extension = ".pcap")
    {
        var files = List(directory, prefix, extension).ToList();
        // Compared as full paths: "/data//pcap/x.pcap" and "/data/pcap/x.pcap" are the same current file.
        current = current is null ? null : Path.GetFullPath(current);
        long total = files.Sum(f => f.Length);
        int removed = 0;
        foreach (var file in files)
        {
            if (string.Equals(file.FullName, current, StringComparison.Ordinal))
            {
                continue;
            }

            bool tooMuch = keepBytes > 0 && total > keepBytes;
            bool tooOld = keepAge is { } age && now - file.LastWriteTimeUtc > age;
            if (!tooMuch && !tooOld)
            {
                continue;
            }

            long length = file.Length;
            try
            {
                file.Delete();
                total -= length;
                removed++;
            }
            catch (IOException)
            {
                // Removed by someone else meanwhile, or not removable now: the next pass tries again.
            }
        }

        return removed;
    }

    private static bool IsOurs(string name, string prefix) =>
        name.Length > prefix.Length + 1 && char.IsDigit(name[prefix.Length + 1]);
}
