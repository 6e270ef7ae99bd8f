using Akka.Actor;
using Fabric.Actors.Hosting;

namespace Fabric.Actors.Pipelines;

/// <summary>Starts the <see cref="PipelineManager"/> (and with it every autostart pipeline) on nodes with role <c>capture</c>.</summary>
public sealed class PipelinesFeature : IFabricFeature
{
    public const string Role = "capture";

    public string Name => "pipelines";

    public void Validate(FabricStartupInfo startup)
    {
        ArgumentNullException.ThrowIfNull(startup);
        PipelineSettingsReader.Read(startup.Config);
    }

    public bool ShouldStart(FabricStartupInfo startup)
    {
        ArgumentNullException.ThrowIfNull(startup);
        return startup.HasRole(Role);
    }

    public Task StartAsync(FabricNodeContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var pipelines = PipelineSettingsReader.Read(context.Config);
        context.System.ActorOf(PipelineManager.Props(pipelines), PipelineManager.Name);
        return Task.CompletedTask;
    }
}
