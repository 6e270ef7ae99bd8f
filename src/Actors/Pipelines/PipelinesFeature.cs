using Akka.Actor;
using Fabric.Actors.Hosting;

namespace Fabric.Actors.Pipelines;

/// <summary>Starts the <see cref="PipelineManager"/> (and with it every autostart pipeline) on nodes with role <c>capture</c>.</summary>
public sealed class PipelinesFeature : IFabricFeature
{
    public const string Role = "capture";

    /// <summary>What <see cref="Validate"/> read, and from which configuration: the start reuses it rather than read
    /// (and compile every BPF filter) twice.</summary>
    private (Akka.Configuration.Config Config, IReadOnlyList<PipelineSettings> Pipelines)? _validated;

    public string Name => "pipelines";

    public void Validate(FabricStartupInfo startup)
    {
        ArgumentNullException.ThrowIfNull(startup);
        _validated = (startup.Config, PipelineSettingsReader.Read(startup.Config));
    }

    public bool ShouldStart(FabricStartupInfo startup)
    {
        ArgumentNullException.ThrowIfNull(startup);
        return startup.HasRole(Role);
    }

    public Task StartAsync(FabricNodeContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var pipelines = _validated is { } validated && ReferenceEquals(validated.Config, context.Config)
            ? validated.Pipelines
            : PipelineSettingsReader.Read(context.Config);
        context.System.ActorOf(PipelineManager.Props(pipelines), PipelineManager.Name);
        return Task.CompletedTask;
    }
}
