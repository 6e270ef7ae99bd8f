// A and B use each other on purpose: LayeringTests.The_cycle_check_finds_a_cycle reads them.
namespace Fabric.Actors.Tests.Architecture.CycleFixture.A;

internal static class UsesB
{
    public static int One() => 1;

    public static int Value() => B.UsesA.Two() + 1;
}
