using System.Reflection;
using System.Reflection.Emit;
using Fabric.Actors.Mirrors;
using Xunit;

namespace Fabric.Actors.Tests.Mirrors;

/// <summary>
/// A backend's folder (<c>Fabric.Actors.Mirrors.&lt;Backend&gt;</c>) uses the Mirrors root and the
/// shared <c>Mirrors.Backends</c>, never another backend: what one backend needs of another goes
/// through the registry. Checked over every type of each backend namespace (with the compiler's
/// nested types: lambdas, async state machines): base types, interfaces, fields, properties,
/// method signatures and every type, method and field their IL refers to.
/// </summary>
public sealed class BackendNamespaceTests
{
    private const string Root = "Fabric.Actors.Mirrors";
    private const string Shared = "Fabric.Actors.Mirrors.Backends";

    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value);

    [Fact]
    public void Backend_namespaces_use_only_the_mirrors_root_and_the_shared_backends_namespace()
    {
        var backends = MirrorBackends.All.Select(b => b.GetType().Namespace!).ToHashSet(StringComparer.Ordinal);
        Assert.Equal(MirrorBackends.All.Length, backends.Count);
        var assembly = typeof(MirrorBackends).Assembly;
        var violations = new SortedSet<string>(StringComparer.Ordinal);
        var scanned = 0;
        foreach (var type in assembly.GetTypes().Where(t => t.Namespace is { } ns && backends.Contains(ns)))
        {
            scanned++;
            foreach (var used in UsedTypes(type).SelectMany(Flatten).Where(t => t.Namespace is not null).Distinct())
            {
                var ns = used.Namespace!;
                if (ns != type.Namespace && ns.StartsWith(Root + ".", StringComparison.Ordinal) && ns != Shared)
                {
                    violations.Add($"{type.FullName} uses {used.FullName}");
                }
            }
        }

        Assert.True(scanned >= 5 * 2, $"only {scanned} types scanned");
        Assert.True(violations.Count == 0, string.Join(Environment.NewLine, violations));
    }

    [Fact]
    public void The_scan_sees_a_dependency_that_only_a_method_body_has()
    {
        // ProxmoxMirrorAgent.OnStart asks the registry for the ovs agent: the IL names MirrorBackends.
        var used = UsedTypes(typeof(Fabric.Actors.Mirrors.Proxmox.ProxmoxMirrorAgent)).SelectMany(Flatten).ToHashSet();
        Assert.Contains(typeof(MirrorBackends), used);
        Assert.DoesNotContain(used, t => t.Namespace == "Fabric.Actors.Mirrors.Ovs");
    }

    private static IEnumerable<Type> UsedTypes(Type type)
    {
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        if (type.BaseType is { } baseType)
        {
            yield return baseType;
        }

        foreach (var i in type.GetInterfaces())
        {
            yield return i;
        }

        foreach (var field in type.GetFields(all))
        {
            yield return field.FieldType;
        }

        foreach (var property in type.GetProperties(all))
        {
            yield return property.PropertyType;
        }

        foreach (var method in type.GetMethods(all).Cast<MethodBase>().Concat(type.GetConstructors(all)))
        {
            if (method is MethodInfo info)
            {
                yield return info.ReturnType;
            }

            foreach (var parameter in method.GetParameters())
            {
                yield return parameter.ParameterType;
            }

            foreach (var local in method.GetMethodBody()?.LocalVariables ?? [])
            {
                yield return local.LocalType;
            }

            foreach (var used in BodyReferences(method))
            {
                yield return used;
            }
        }
    }

    /// <summary>The types named by the tokens of <paramref name="method"/>'s IL (types, and the declaring and signature types of fields and methods).</summary>
    private static IEnumerable<Type> BodyReferences(MethodBase method)
    {
        var il = method.GetMethodBody()?.GetILAsByteArray();
        if (il is null)
        {
            yield break;
        }

        var typeArgs = method.DeclaringType is { IsGenericType: true } d ? d.GetGenericArguments() : null;
        var methodArgs = method.IsGenericMethod ? method.GetGenericArguments() : null;
        var at = 0;
        while (at < il.Length)
        {
            short value = il[at++];
            if (value == 0xFE)
            {
                value = unchecked((short)(0xFE00 | il[at++]));
            }

            var op = OpCodesByValue[value];
            switch (op.OperandType)
            {
                case OperandType.InlineNone:
                    break;
                case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar:
                    at += 1;
                    break;
                case OperandType.InlineVar:
                    at += 2;
                    break;
                case OperandType.InlineI8 or OperandType.InlineR:
                    at += 8;
                    break;
                case OperandType.InlineSwitch:
                    at += 4 + (4 * BitConverter.ToInt32(il, at));
                    break;
                case OperandType.InlineField or OperandType.InlineMethod or OperandType.InlineType or OperandType.InlineTok:
                    var member = method.Module.ResolveMember(BitConverter.ToInt32(il, at), typeArgs, methodArgs);
                    at += 4;
                    switch (member)
                    {
                        case Type t:
                            yield return t;
                            break;
                        case FieldInfo f:
                            yield return f.DeclaringType!;
                            yield return f.FieldType;
                            break;
                        case MethodBase m:
                            yield return m.DeclaringType!;
                            if (m is MethodInfo mi)
                            {
                                yield return mi.ReturnType;
                                foreach (var arg in mi.IsGenericMethod ? mi.GetGenericArguments() : [])
                                {
                                    yield return arg;
                                }
                            }

                            foreach (var parameter in m.GetParameters())
                            {
                                yield return parameter.ParameterType;
                            }

                            break;
                    }

                    break;
                default:
                    at += 4;
                    break;
            }
        }
    }

    /// <summary>The type itself (its outermost declaring type) and, for arrays, by-refs and generics, the types it is made of.</summary>
    private static IEnumerable<Type> Flatten(Type type)
    {
        if (type.HasElementType)
        {
            foreach (var inner in Flatten(type.GetElementType()!))
            {
                yield return inner;
            }

            yield break;
        }

        if (type.IsGenericParameter)
        {
            yield break;
        }

        if (type.IsGenericType && !type.IsGenericTypeDefinition)
        {
            foreach (var arg in type.GetGenericArguments().SelectMany(Flatten))
            {
                yield return arg;
            }

            type = type.GetGenericTypeDefinition();
        }

        while (type.DeclaringType is { } outer)
        {
            type = outer;
        }

        yield return type;
    }
}
