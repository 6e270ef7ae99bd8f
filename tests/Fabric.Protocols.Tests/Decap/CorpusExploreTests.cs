using Fabric.Protocols.Decap;
using Xunit;
using Xunit.Abstractions;

namespace Fabric.Protocols.Tests.Decap;

public class CorpusExploreTests(ITestOutputHelper output)
{
    [Fact]
    public void Explore()
    {
        var files = File.ReadAllLines(CorpusCapture.PathOf("INDEX.tsv")).Skip(1).Select(l => l.Split('\t')[0])
            .Where(p => p.EndsWith(".pcap", StringComparison.Ordinal) || p.EndsWith(".pcapng", StringComparison.Ordinal));
        foreach (var file in files)
        {
            var (link, frames) = CorpusCapture.Read(file);
            var d = new Decapsulator(new DecapOptions());
            var counts = new SortedDictionary<string, int>();
            var chains = new SortedDictionary<string, int>();
            foreach (var f in frames)
            {
                var buf = (byte[])f.Data.Clone();
                var st = d.Decapsulate(buf, 0, buf.Length, f.OriginalLength, f.TimestampNanoseconds,
                    link == 101 ? LinkLayer.RawIp : LinkLayer.Ethernet, out var r, out var md);
                var n = DecapStatusInfo.Name(st);
                counts[n] = counts.GetValueOrDefault(n) + 1;
                if (DecapStatusInfo.Emits(st))
                {
                    var c = md.ChainText() + (r.IsTruncated ? "(T)" : "");
                    chains[c] = chains.GetValueOrDefault(c) + 1;
                }
            }

            output.WriteLine($"{file} link={link} n={frames.Count}: {string.Join(", ", counts.Select(kv => kv.Key + "=" + kv.Value))} | {string.Join(", ", chains.Select(kv => kv.Key + "=" + kv.Value))}");
        }
    }
}
