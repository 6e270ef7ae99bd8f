using System.CommandLine;

namespace Fabric.Console.Commands;

/// <summary>
/// One top-level command group of the console (`cluster`, `pipelines`, `mirrors`, `decap`, …).
/// Adding a group is adding a class and listing it in <see cref="ConsoleApp.Groups"/> (no reflection: the console
/// is a NativeAOT executable); a test fails when a group class is not listed.
/// </summary>
internal interface ICommandGroup
{
    /// <summary>Builds the group's command tree. <paramref name="globals"/> carries the shared options.</summary>
    Command Build(GlobalOptions globals);
}
