using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace Fabric.Benchmarks.Decap;

/// <summary>Short runs measured in thread CPU time, in process (see <see cref="ThreadCpuClock"/>).</summary>
public sealed class CpuTimeConfig : ManualConfig
{
    public CpuTimeConfig()
    {
        AddJob(Job.ShortRun.WithIterationCount(15).WithClock(ThreadCpuClock.Instance)
            .WithToolchain(InProcessEmitToolchain.Instance).WithId("CpuTime"));
        AddDiagnoser(MemoryDiagnoser.Default);
    }
}
