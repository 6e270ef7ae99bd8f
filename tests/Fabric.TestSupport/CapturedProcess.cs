using System.Diagnostics;
using System.Text;

namespace Fabric.Tests;

/// <summary>
/// A started process whose standard output and error are read line by line into <see cref="Output"/>
/// (and optionally a log file and a per-line callback). Every test fixture that keeps a process's output
/// starts it through here, so the one rule lives in one place: nothing the output callbacks use is
/// disposed until both streams have reported their end (the null line), never from <c>Exited</c>, and the
/// callbacks never throw (an exception there runs on a thread-pool thread and kills the test host).
/// </summary>
public sealed class CapturedProcess : IDisposable
{
    /// <summary>How long Dispose and the waits give the output streams to end once the process has exited.</summary>
    public static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(30);

    private readonly Lock _gate = new();
    private readonly StringBuilder _output = new();
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly TaskCompletionSource _stdoutEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stderrEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Action<string>? _onLine;
    private TextWriter? _log;
    private Exception? _callbackError;
    private int _lines;
    private bool _closed;
    private bool _disposed;

    private CapturedProcess(ProcessStartInfo start, string? logFile, Action<string>? onLine)
    {
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        _onLine = onLine;
        _log = logFile is null ? null : new StreamWriter(logFile) { AutoFlush = true };
        Process = new Process { StartInfo = start };
        Process.OutputDataReceived += (_, e) => Received(e.Data, _stdout, _stdoutEnded);
        Process.ErrorDataReceived += (_, e) => Received(e.Data, _stderr, _stderrEnded);
        try
        {
            if (!Process.Start())
            {
                throw new InvalidOperationException($"cannot start {start.FileName}");
            }
        }
        catch
        {
            _log?.Dispose();
            Process.Dispose();
            throw;
        }

        Process.BeginOutputReadLine();
        Process.BeginErrorReadLine();
    }

    /// <summary>
    /// Starts <paramref name="start"/> with both streams redirected. Each line goes to <see cref="Output"/>, to
    /// <paramref name="logFile"/> when given (created; closed on Dispose, after the last line) and to
    /// <paramref name="onLine"/> (on a thread-pool thread; what it throws is kept in <see cref="CallbackError"/>).
    /// </summary>
    public static CapturedProcess Start(ProcessStartInfo start, string? logFile = null, Action<string>? onLine = null)
    {
        ArgumentNullException.ThrowIfNull(start);
        return new CapturedProcess(start, logFile, onLine);
    }

    /// <summary>Starts <paramref name="program"/> with <paramref name="arguments"/> (see <see cref="Start(ProcessStartInfo, string?, Action{string}?)"/>).</summary>
    public static CapturedProcess Start(string program, IEnumerable<string> arguments, string? logFile = null, Action<string>? onLine = null)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        var start = new ProcessStartInfo(program);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return new CapturedProcess(start, logFile, onLine);
    }

    /// <summary>The process itself (for its standard input and the odd property not mirrored here).</summary>
    public Process Process { get; }

    public int Id => Process.Id;

    public bool HasExited => Process.HasExited;

    public int ExitCode => Process.ExitCode;

    /// <summary>Every line the process wrote so far, stdout and stderr interleaved as they arrived, each ended by a newline.</summary>
    public string Output
    {
        get
        {
            lock (_gate)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>The standard output lines so far, each ended by a newline.</summary>
    public string Stdout
    {
        get
        {
            lock (_gate)
            {
                return _stdout.ToString();
            }
        }
    }

    /// <summary>The standard error lines so far, each ended by a newline.</summary>
    public string Stderr
    {
        get
        {
            lock (_gate)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <summary>How many lines have been captured so far.</summary>
    public int LineCount
    {
        get
        {
            lock (_gate)
            {
                return _lines;
            }
        }
    }

    /// <summary>True once both output streams have ended (no callback runs after that).</summary>
    public bool Drained => _stdoutEnded.Task.IsCompleted && _stderrEnded.Task.IsCompleted;

    /// <summary>The first exception the per-line callback or the log file threw (kept, never rethrown on the reader thread).</summary>
    public Exception? CallbackError
    {
        get
        {
            lock (_gate)
            {
                return _callbackError;
            }
        }
    }

    /// <summary>Waits for the exit and then for the last output line; false if the process is still running after <paramref name="timeout"/>.</summary>
    public bool WaitForExit(TimeSpan timeout)
    {
        if (!Process.WaitForExit(timeout))
        {
            return false;
        }

        Drain();
        return true;
    }

    /// <summary><see cref="WaitForExit(TimeSpan)"/> in milliseconds.</summary>
    public bool WaitForExit(int milliseconds) => WaitForExit(TimeSpan.FromMilliseconds(milliseconds));

    /// <summary>Waits for the exit and then for the last output line.</summary>
    public void WaitForExit()
    {
        Process.WaitForExit();
        Drain();
    }

    /// <summary>Waits for the exit and then for the last output line; false if the process is still running after <paramref name="timeout"/>.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await Process.WaitForExitAsync(cancel.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }

        await DrainAsync().ConfigureAwait(false);
        return true;
    }

    /// <summary>SIGKILL (with its children unless <paramref name="entireProcessTree"/> is false), then waits for the exit and the last output line.</summary>
    public void Kill(bool entireProcessTree = true)
    {
        try
        {
            if (!Process.HasExited)
            {
                Process.Kill(entireProcessTree);
            }
        }
        catch (InvalidOperationException)
        {
            // exited in between
        }

        // Bounded: a killed process exits at once, and a grandchild that escaped the kill and holds
        // a stream open must not hang the test run.
        if (Process.WaitForExit(DrainTimeout))
        {
            Drain();
        }
    }

    /// <summary>Kills the process if it still runs, waits for its output to end, then closes the log file and the process.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Kill();
        lock (_gate)
        {
            // From here on a late callback (only possible if a grandchild kept a stream open past
            // DrainTimeout) finds _closed and drops its line instead of writing to a closed file.
            _closed = true;
            _log?.Dispose();
            _log = null;
        }

        Process.Dispose();
    }

    private void Drain()
    {
        // Process.WaitForExit() without a timeout waits for the async readers too; this is the same
        // wait, bounded, and it also covers WaitForExit(timeout) and WaitForExitAsync.
        Task.WhenAll(_stdoutEnded.Task, _stderrEnded.Task).Wait(DrainTimeout);
    }

    private Task DrainAsync() => Task.WhenAny(Task.WhenAll(_stdoutEnded.Task, _stderrEnded.Task), Task.Delay(DrainTimeout));

    private void Received(string? line, StringBuilder stream, TaskCompletionSource ended)
    {
        if (line is null)
        {
            ended.TrySetResult();
            return;
        }

#pragma warning disable CA1031 // this runs on a thread-pool thread: whatever a sink throws must stay here
        try
        {
            lock (_gate)
            {
                if (_closed)
                {
                    return;
                }

                _output.Append(line).Append('\n');
                stream.Append(line).Append('\n');
                _lines++;
                _log?.WriteLine(line);
            }

            _onLine?.Invoke(line);
        }
        catch (Exception e)
        {
            lock (_gate)
            {
                _callbackError ??= e;
            }
        }
#pragma warning restore CA1031
    }
}
