using System.Globalization;
using BenchmarkDotNet.Running;
using Fabric.Benchmarks.Sinks;

// `tap-sink DEV FILE.pcap REPEAT`: the TAP sink's write path against a kernel TAP (bench/tap-sink-bench.sh).
if (args is ["tap-sink", var device, var file, var repeat])
{
    return TapSinkThroughput.Run(device, file, int.Parse(repeat, CultureInfo.InvariantCulture));
}

// Otherwise BenchmarkDotNet: pick benchmarks with --filter, e.g. `--filter *Decapsulator* --job short`.
BenchmarkSwitcher.FromAssembly(typeof(Fabric.Benchmarks.Decap.DecapsulatorBenchmarks).Assembly).Run(args);
return 0;
