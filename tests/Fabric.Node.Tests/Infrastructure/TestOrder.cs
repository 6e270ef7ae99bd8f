using Xunit.Abstractions;
using Xunit.Sdk;

namespace Fabric.Node.Tests.Infrastructure;

/// <summary>Runs a class's tests in the order of their <see cref="StepAttribute"/> (tests sharing one cluster fixture).</summary>
public sealed class StepOrderer : ITestCaseOrderer
{
    public const string TypeName = "Fabric.Node.Tests.Infrastructure.StepOrderer";

    public const string AssemblyName = "Fabric.Node.Tests";

    public IEnumerable<TTestCase> OrderTestCases<TTestCase>(IEnumerable<TTestCase> testCases)
        where TTestCase : ITestCase =>
        testCases.OrderBy(tc => tc.TestMethod.Method.GetCustomAttributes(typeof(StepAttribute).AssemblyQualifiedName!)
            .FirstOrDefault()?.GetNamedArgument<int>(nameof(StepAttribute.Number)) ?? int.MaxValue);
}

/// <summary>The position of a test in its class (see <see cref="StepOrderer"/>).</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class StepAttribute : Attribute
{
    public int Number { get; set; }
}
