using Fabric.Console.Commands;

namespace Fabric.Console.Tests;

/// <summary>
/// ConsoleApp.Groups() lists the command groups explicitly (the NativeAOT console cannot find them by reflection):
/// every <see cref="ICommandGroup"/> class in the console's assembly is in it, once, in class-name order.
/// </summary>
public sealed class ConsoleAppTests
{
    [Fact]
    public void Groups_lists_every_command_group_class_once_in_name_order()
    {
        var classes = typeof(ConsoleApp).Assembly.GetTypes()
            .Where(t => t is { IsClass: true, IsAbstract: false } && typeof(ICommandGroup).IsAssignableFrom(t))
            .Select(t => t.Name).Order(StringComparer.Ordinal).ToList();

        var listed = ConsoleApp.Groups().Select(g => g.GetType().Name).ToList();

        Assert.True(classes.Count >= 6, string.Join(", ", classes)); // the walk found the groups
        Assert.Equal(classes, listed);
    }
}
