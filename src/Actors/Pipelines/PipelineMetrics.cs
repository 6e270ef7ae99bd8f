using Fabric.Actors.DataPlane;
using Fabric.Actors.Metrics;

namespace Fabric.Actors.Pipelines;

/// <summary>The pipelines' counters on <c>/metrics</c>, labelled by pipeline and stage.</summary>
internal sealed class PipelineMetrics(Func<IReadOnlyList<PublishedPipeline>> pipelines) : IMetricsSource
{
    public void Write(PrometheusTextWriter writer)
    {
        var all = pipelines();
        writer.Family("fabric_pipeline_up", MetricType.Gauge, "1 when the pipeline is running.");
        writer.Family("fabric_pipeline_packets_total", MetricType.Counter, "Packets into and out of each stage.");
        writer.Family("fabric_pipeline_bytes_total", MetricType.Counter, "Bytes into and out of each stage.");
        writer.Family("fabric_pipeline_dropped_packets_total", MetricType.Counter, "Packets a stage dropped, by reason.");
        writer.Family("fabric_pipeline_dropped_bytes_total", MetricType.Counter, "Bytes a stage dropped, by reason.");
        writer.Family("fabric_pipeline_events_total", MetricType.Counter, "A stage's other counts, by event (a stream source's lost-in-transit, duplicates, reordered, bad-version, ...; a stream sink's records, wire-bytes, reconnects, ...).");
        writer.Family("fabric_capture_kernel_packets_total", MetricType.Counter, "libpcap's counters of the source: received, dropped, if-dropped.");
        writer.Family("fabric_capture_outages_total", MetricType.Counter, "Times the capture interface disappeared or failed.");
        writer.Family("fabric_pipeline_vni_packets_total", MetricType.Counter, "Decapsulated frames per VNI at the decap stage (vni=\"other\": VNIs beyond the pipeline's vni-counters table).");
        writer.Family("fabric_pipeline_vni_bytes_total", MetricType.Counter, "Bytes (as captured) of the frames per VNI at the decap stage.");
        writer.Family("fabric_pipeline_source_packets_total", MetricType.Counter, "Decapsulated frames per source id (mirror session, named as by fabric pipelines sources) at the decap stage; bounded by decap max-sources (source=\"other\": sessions past it).");
        writer.Family("fabric_pipeline_source_bytes_total", MetricType.Counter, "Bytes (as captured) of the frames per source id at the decap stage.");
        foreach (var pipeline in all)
        {
            string name = pipeline.Settings.Name;
            writer.Sample("fabric_pipeline_up", pipeline.State == "running" ? 1 : 0, ("pipeline", name));
            var runtime = pipeline.Runtime;
            if (runtime is null)
            {
                continue;
            }

            foreach (var stage in runtime.Snapshot().SelectMany(s => (IEnumerable<StageSnapshot>)[s, .. s.Members ?? []]))
            {
                writer.Sample("fabric_pipeline_packets_total", stage.In.Packets, ("pipeline", name), ("stage", stage.Stage), ("direction", "in"));
                writer.Sample("fabric_pipeline_packets_total", stage.Out.Packets, ("pipeline", name), ("stage", stage.Stage), ("direction", "out"));
                writer.Sample("fabric_pipeline_bytes_total", stage.In.Bytes, ("pipeline", name), ("stage", stage.Stage), ("direction", "in"));
                writer.Sample("fabric_pipeline_bytes_total", stage.Out.Bytes, ("pipeline", name), ("stage", stage.Stage), ("direction", "out"));
                foreach (var (reason, count) in stage.Dropped.OrderBy(d => d.Key, StringComparer.Ordinal))
                {
                    writer.Sample("fabric_pipeline_dropped_packets_total", count.Packets, ("pipeline", name), ("stage", stage.Stage), ("reason", reason));
                    writer.Sample("fabric_pipeline_dropped_bytes_total", count.Bytes, ("pipeline", name), ("stage", stage.Stage), ("reason", reason));
                }

                foreach (var (eventName, value) in stage.Events.OrderBy(e => e.Key, StringComparer.Ordinal))
                {
                    writer.Sample("fabric_pipeline_events_total", value, ("pipeline", name), ("stage", stage.Stage), ("event", eventName));
                }
            }

            var status = runtime.CaptureStatus;
            writer.Sample("fabric_capture_kernel_packets_total", status.KernelReceived, ("pipeline", name), ("counter", "received"));
            writer.Sample("fabric_capture_kernel_packets_total", status.KernelDropped, ("pipeline", name), ("counter", "dropped"));
            writer.Sample("fabric_capture_kernel_packets_total", status.InterfaceDropped, ("pipeline", name), ("counter", "if-dropped"));
            writer.Sample("fabric_capture_outages_total", status.Outages, ("pipeline", name));
            if (runtime.Vnis?.Snapshot() is { } vnis)
            {
                foreach (var vni in vnis.Vnis)
                {
                    var label = vni.Vni.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    writer.Sample("fabric_pipeline_vni_packets_total", vni.Packets, ("pipeline", name), ("vni", label));
                    writer.Sample("fabric_pipeline_vni_bytes_total", vni.Bytes, ("pipeline", name), ("vni", label));
                }

                writer.Sample("fabric_pipeline_vni_packets_total", vnis.OtherPackets, ("pipeline", name), ("vni", "other"));
                writer.Sample("fabric_pipeline_vni_bytes_total", vnis.OtherBytes, ("pipeline", name), ("vni", "other"));
            }

            foreach (var source in runtime.Sources.Snapshot())
            {
                writer.Sample("fabric_pipeline_source_packets_total", source.Frames, ("pipeline", name), ("source", source.Name));
                writer.Sample("fabric_pipeline_source_bytes_total", source.Bytes, ("pipeline", name), ("source", source.Name));
            }
        }
    }
}
