using Xunit;

namespace Fabric.Node.Tests.Infrastructure;

/// <summary>
/// Test classes that run long-lived fabric-node processes run one after the other (not in
/// parallel), so that a small CI machine is not so loaded that failure detectors misfire.
/// </summary>
[CollectionDefinition(Name)]
public sealed class NodeProcessCollection
{
    public const string Name = "fabric-node processes";
}
