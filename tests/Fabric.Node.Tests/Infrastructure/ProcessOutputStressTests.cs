using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace Fabric.Node.Tests.Infrastructure;

/// <summary>
/// The process-output plumbing every fixture uses (<see cref="CapturedProcess"/>, which the fabric-node,
/// OVS and helper-process launchers start through) under load: 200 short-lived processes printing on
/// stdout and stderr right up to their exit, a quarter of them killed mid-output, each with a log file
/// (as the data-plane node fixture keeps one) closed by Dispose as soon as the process is gone. Nothing may
/// throw on a reader thread (that kills the test host: issue 12), and every line of a process that exited
/// normally is in its output and its log, in order.
/// </summary>
[Collection(NodeProcessCollection.Name)] // not alongside the cluster tests: 200 processes load a small machine
public sealed class ProcessOutputStressTests : IDisposable
{
    private const int Processes = 200;
    private const int LinesPerStream = 200;
    private readonly string _directory = Directory.CreateTempSubdirectory("fo-stress-").FullName;

    [Fact]
    public async Task Two_hundred_short_lived_processes_with_output_in_flight_leave_no_unobserved_exception_and_lose_no_line()
    {
        var escaped = new ConcurrentQueue<string>();
        void OnFirstChance(object? sender, global::System.Runtime.ExceptionServices.FirstChanceExceptionEventArgs e)
        {
            // Only a disposed-object error raised inside the capture's own callback: other tests in this
            // process may throw and catch what they like.
            if (e.Exception is ObjectDisposedException && Environment.StackTrace.Contains(nameof(CapturedProcess), StringComparison.Ordinal))
            {
                escaped.Enqueue("first chance: " + e.Exception);
            }
        }

        void OnUnobserved(object? sender, UnobservedTaskExceptionEventArgs e) => escaped.Enqueue("unobserved task: " + e.Exception);
        void OnUnhandled(object? sender, UnhandledExceptionEventArgs e) => escaped.Enqueue("unhandled: " + e.ExceptionObject);

        AppDomain.CurrentDomain.FirstChanceException += OnFirstChance;
        TaskScheduler.UnobservedTaskException += OnUnobserved;
        AppDomain.CurrentDomain.UnhandledException += OnUnhandled;
        var problems = new ConcurrentQueue<string>();
        var clock = Stopwatch.StartNew();
        try
        {
            await Parallel.ForEachAsync(Enumerable.Range(0, Processes), new ParallelOptions { MaxDegreeOfParallelism = 8 }, (index, _) =>
            {
                if (index % 4 == 3)
                {
                    KilledMidOutput(index, problems);
                }
                else
                {
                    ExitsNormally(index, problems);
                }

                return ValueTask.CompletedTask;
            });

            // Whatever a reader thread left behind shows up now or never.
            await Task.Delay(200);
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
        }
        finally
        {
            AppDomain.CurrentDomain.FirstChanceException -= OnFirstChance;
            TaskScheduler.UnobservedTaskException -= OnUnobserved;
            AppDomain.CurrentDomain.UnhandledException -= OnUnhandled;
        }

        Assert.True(escaped.IsEmpty, $"{escaped.Count} exceptions escaped the output callbacks:\n{string.Join("\n", escaped.Take(5))}");
        Assert.True(problems.IsEmpty, $"{problems.Count} of {Processes} processes lost output:\n{string.Join("\n", problems.Take(10))}");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"took {clock.Elapsed}");
    }

    /// <summary>Prints 200 lines on each stream up to its exit; disposed the moment it is seen to have exited.</summary>
    private void ExitsNormally(int index, ConcurrentQueue<string> problems)
    {
        var log = Path.Combine(_directory, $"p{index}.log");
        var process = CapturedProcess.Start("sh", ["-c", $"i=1; while [ $i -le {LinesPerStream} ]; do echo line$i; echo err$i >&2; i=$((i+1)); done"], log);
        Wait.Until(() => process.HasExited, TimeSpan.FromSeconds(30), () => $"process {index} to exit", TimeSpan.FromMilliseconds(1));
        process.Dispose(); // straight after the exit: the readers may still hold lines (the old race)

        var expectedOut = Enumerable.Range(1, LinesPerStream).Select(i => "line" + i.ToString(CultureInfo.InvariantCulture)).ToArray();
        var expectedErr = Enumerable.Range(1, LinesPerStream).Select(i => "err" + i.ToString(CultureInfo.InvariantCulture)).ToArray();
        foreach (var (what, text) in new[] { ("output", process.Output), ("log", File.ReadAllText(log)) })
        {
            var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            var stdout = lines.Where(l => l.StartsWith("line", StringComparison.Ordinal)).ToArray();
            var stderr = lines.Where(l => l.StartsWith("err", StringComparison.Ordinal)).ToArray();
            if (!stdout.SequenceEqual(expectedOut) || !stderr.SequenceEqual(expectedErr) || lines.Length != 2 * LinesPerStream)
            {
                problems.Enqueue($"process {index} {what}: {stdout.Length} stdout and {stderr.Length} stderr lines of {LinesPerStream} each ({lines.Length} in all), last '{lines.LastOrDefault()}'");
            }
        }

        if (process.CallbackError is { } error)
        {
            problems.Enqueue($"process {index}: callback threw {error}");
        }
    }

    /// <summary>Prints without end; killed (Dispose) after its first lines, or right after its start.</summary>
    private void KilledMidOutput(int index, ConcurrentQueue<string> problems)
    {
        var log = Path.Combine(_directory, $"k{index}.log");
        var process = CapturedProcess.Start("sh", ["-c", "i=1; while :; do echo line$i; echo err$i >&2; i=$((i+1)); done"], log);
        if (index % 8 == 3)
        {
            Wait.Until(() => process.LineCount >= 50, TimeSpan.FromSeconds(30), () => $"process {index} to print", TimeSpan.FromMilliseconds(1));
        }

        process.Dispose();

        // Every line captured before the kill is in the log as well: none was written to a closed file or lost.
        var output = process.Output;
        var logged = File.ReadAllText(log);
        if (output != logged)
        {
            problems.Enqueue($"killed process {index}: {output.Length} characters captured, {logged.Length} in its log");
        }

        if (!process.Drained)
        {
            problems.Enqueue($"killed process {index}: its output streams did not end");
        }

        if (process.CallbackError is { } error)
        {
            problems.Enqueue($"killed process {index}: callback threw {error}");
        }
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
