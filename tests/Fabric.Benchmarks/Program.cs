using BenchmarkDotNet.Running;

// Pick benchmarks with --filter, e.g. `--filter *Decapsulator* --job short`.
BenchmarkSwitcher.FromAssembly(typeof(Fabric.Benchmarks.Decap.DecapsulatorBenchmarks).Assembly).Run(args);
