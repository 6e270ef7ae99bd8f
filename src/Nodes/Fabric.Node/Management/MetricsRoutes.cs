using System.Text;
using Akka.Actor;
using Fabric.Actors.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Fabric.Node.Management;

/// <summary><c>GET /metrics</c>: every registered <see cref="IMetricsSource"/> in Prometheus text format.</summary>
public sealed class MetricsRoutes : IManagementRoutes
{
    public void Map(IEndpointRouteBuilder routes)
    {
        routes.MapGet("/metrics", (ActorSystem system) =>
        {
            var text = new StringWriter(new StringBuilder(4096));
            FabricMetrics.Get(system).WriteAll(new PrometheusTextWriter(text));
            return Results.Text(text.ToString(), "text/plain; version=0.0.4; charset=utf-8");
        });
    }
}
