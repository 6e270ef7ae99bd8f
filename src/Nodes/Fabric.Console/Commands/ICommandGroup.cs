using System.CommandLine;

namespace Fabric.Console.Commands;

/// <summary>
/// One top-level command group of the console (`cluster`, `pipelines`, `mirrors`, `decap`, …).
/// Groups are found by reflection: adding a group is adding a class, nothing else changes.
/// </summary>
internal interface ICommandGroup
{
    /// <summary>Builds the group's command tree. <paramref name="globals"/> carries the shared options.</summary>
    Command Build(GlobalOptions globals);
}
