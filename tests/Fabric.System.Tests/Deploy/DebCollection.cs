namespace Fabric.System.Tests.Deploy;

/// <summary>
/// The tests that need the built .deb share one build (publishing twice is the slow part) and
/// run one after another (each installs or checks the same package on this machine).
/// </summary>
[CollectionDefinition(Name)]
public sealed class DebCollection : ICollectionFixture<DebPackageFixture>
{
    public const string Name = "deb package";
}
