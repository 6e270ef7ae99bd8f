using System.Globalization;
using System.Text;

namespace Fabric.Actors.Metrics;

/// <summary>
/// Writes the Prometheus text exposition format (version 0.0.4): one <c># HELP</c> and
/// <c># TYPE</c> per family, then its samples with escaped label values.
/// <code>
/// w.Family("fabric_cluster_members", MetricType.Gauge, "Cluster members by status.");
/// w.Sample("fabric_cluster_members", 3, ("status", "up"));
/// </code>
/// </summary>
public sealed class PrometheusTextWriter
{
    private readonly TextWriter _out;
    private readonly HashSet<string> _families = new(StringComparer.Ordinal);

    public PrometheusTextWriter(TextWriter output)
    {
        _out = output ?? throw new ArgumentNullException(nameof(output));
    }

    /// <summary>Declares a metric family (HELP and TYPE). A family declared twice is written once.</summary>
    public void Family(string name, MetricType type, string help)
    {
        ValidateName(name);
        ArgumentNullException.ThrowIfNull(help);
        if (!_families.Add(name))
        {
            return;
        }

        _out.Write("# HELP ");
        _out.Write(name);
        _out.Write(' ');
        _out.Write(EscapeHelp(help));
        _out.Write('\n');
        _out.Write("# TYPE ");
        _out.Write(name);
        _out.Write(' ');
        _out.Write(type switch
        {
            MetricType.Counter => "counter",
            MetricType.Gauge => "gauge",
            MetricType.Histogram => "histogram",
            _ => "untyped",
        });
        _out.Write('\n');
    }

    /// <summary>One sample of a declared family, with labels as (name, value) pairs.</summary>
    public void Sample(string name, double value, params (string Name, string Value)[] labels)
    {
        ValidateName(name);
        ArgumentNullException.ThrowIfNull(labels);
        _out.Write(name);
        if (labels.Length > 0)
        {
            _out.Write('{');
            for (var i = 0; i < labels.Length; i++)
            {
                if (i > 0)
                {
                    _out.Write(',');
                }

                ValidateName(labels[i].Name);
                _out.Write(labels[i].Name);
                _out.Write("=\"");
                _out.Write(EscapeLabel(labels[i].Value));
                _out.Write('"');
            }

            _out.Write('}');
        }

        _out.Write(' ');
        _out.Write(FormatValue(value));
        _out.Write('\n');
    }

    /// <summary>Formats a sample value as Prometheus expects (NaN, +Inf, -Inf, invariant culture).</summary>
    public static string FormatValue(double value) => value switch
    {
        double.NaN => "NaN",
        double.PositiveInfinity => "+Inf",
        double.NegativeInfinity => "-Inf",
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };

    /// <summary>Escapes a label value: backslash, double quote and line feed.</summary>
    public static string EscapeLabel(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.AsSpan().IndexOfAny("\\\"\n") < 0)
        {
            return value;
        }

        var sb = new StringBuilder(value.Length + 8);
        foreach (var c in value)
        {
            switch (c)
            {
                case '\\': sb.Append("\\\\"); break;
                case '"': sb.Append("\\\""); break;
                case '\n': sb.Append("\\n"); break;
                default: sb.Append(c); break;
            }
        }

        return sb.ToString();
    }

    private static string EscapeHelp(string help) =>
        help.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private static void ValidateName(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            var ok = char.IsAsciiLetter(c) || c == '_' || c == ':' || (i > 0 && char.IsAsciiDigit(c));
            if (!ok)
            {
                throw new ArgumentException($"not a valid Prometheus metric or label name: \"{name}\"", nameof(name));
            }
        }
    }
}

/// <summary>Prometheus metric types Fabric writes.</summary>
public enum MetricType
{
    Counter,
    Gauge,

    /// <summary>Samples <c>name_bucket{le}</c> (cumulative, ending with <c>le="+Inf"</c>), <c>name_sum</c>, <c>name_count</c>.</summary>
    Histogram,
}
