using System.Globalization;
using BenchmarkDotNet.Running;
using Fabric.Benchmarks.Sinks;

// `tap-sink DEV FILE.pcap REPEAT [write|ring]`: the TAP sink's write path against a kernel TAP
// (bench/tap-sink-bench.sh, bench/tap-variants.sh).
if (args is ["tap-sink", var device, var file, var repeat, ..] && args.Length <= 5)
{
    string mode = args.Length == 5 ? args[4] : "write";
    if (mode is not ("write" or "ring"))
    {
        Console.Error.WriteLine($"tap-sink: mode must be write or ring, got \"{mode}\"");
        return 2;
    }

    return TapSinkThroughput.Run(device, file, int.Parse(repeat, CultureInfo.InvariantCulture), mode);
}

// Otherwise BenchmarkDotNet: pick benchmarks with --filter, e.g. `--filter *Decapsulator* --job short`.
BenchmarkSwitcher.FromAssembly(typeof(Fabric.Benchmarks.Decap.DecapsulatorBenchmarks).Assembly).Run(args);
return 0;
