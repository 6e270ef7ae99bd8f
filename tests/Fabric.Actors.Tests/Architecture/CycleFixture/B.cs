// A and B use each other on purpose: LayeringTests.The_cycle_check_finds_a_cycle reads them.
namespace Fabric.Actors.Tests.Architecture.CycleFixture.B;

internal static class UsesA
{
    public static int Two() => 2;

    public static int Value() => A.UsesB.One() + 1;
}
