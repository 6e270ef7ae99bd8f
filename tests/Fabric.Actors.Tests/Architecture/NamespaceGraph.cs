using System.Reflection;
using System.Reflection.Emit;

namespace Fabric.Actors.Tests.Architecture;

/// <summary>
/// Which namespaces of an assembly use which, read from the compiled assembly: every type's base type and
/// interfaces, its fields, properties, events and method signatures, the locals of its method bodies, and every
/// type, method and field token in the IL of those bodies (so a use inside a method body counts, not only one in
/// a signature). Nested and compiler-generated types (lambdas' closures, iterator and async state machines)
/// count for the namespace of the type they are declared in. Only types of the same assembly are edges.
/// A <c>const</c> is inlined by the compiler and leaves no trace in the assembly, so it is not seen.
/// </summary>
internal sealed class NamespaceGraph
{
    private const BindingFlags Declared = BindingFlags.DeclaredOnly | BindingFlags.Public | BindingFlags.NonPublic
        | BindingFlags.Instance | BindingFlags.Static;

    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value);

    private readonly Assembly _assembly;
    private readonly Dictionary<string, Dictionary<string, SortedSet<string>>> _edges = new(StringComparer.Ordinal);

    private NamespaceGraph(Assembly assembly) => _assembly = assembly;

    /// <summary>Every namespace that declares a type.</summary>
    public IReadOnlyCollection<string> Namespaces => _edges.Keys;

    public static NamespaceGraph Of(Assembly assembly)
    {
        var graph = new NamespaceGraph(assembly);
        foreach (var type in assembly.GetTypes())
        {
            graph.Scan(type);
        }

        return graph;
    }

    /// <summary>The other namespaces of the assembly that <paramref name="ns"/> uses.</summary>
    public IReadOnlyCollection<string> Uses(string ns) =>
        _edges.TryGetValue(ns, out var uses) ? uses.Keys : [];

    /// <summary>Which types of <paramref name="from"/> use which types of <paramref name="to"/>, as
    /// <c>"User -> Used"</c> (outermost declaring types).</summary>
    public IReadOnlyCollection<string> TypeUses(string from, string to) =>
        _edges.TryGetValue(from, out var uses) && uses.TryGetValue(to, out var why) ? why : [];

    /// <summary>For a message: the first few <see cref="TypeUses"/>.</summary>
    public string Why(string from, string to) => string.Join("; ", TypeUses(from, to).Take(8));

    /// <summary>Namespace cycles (strongly connected components of more than one namespace) of the graph
    /// restricted to <paramref name="among"/>; null: the whole graph.</summary>
    public IReadOnlyList<IReadOnlyList<string>> Cycles(IReadOnlyCollection<string>? among = null)
    {
        bool Included(string ns) => among is null || among.Contains(ns);
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        var low = new Dictionary<string, int>(StringComparer.Ordinal);
        var stack = new Stack<string>();
        var onStack = new HashSet<string>(StringComparer.Ordinal);
        var components = new List<IReadOnlyList<string>>();
        int next = 0;

        void Visit(string node)
        {
            index[node] = low[node] = next++;
            stack.Push(node);
            onStack.Add(node);
            foreach (var used in Uses(node).Where(Included))
            {
                if (!index.ContainsKey(used))
                {
                    Visit(used);
                    low[node] = Math.Min(low[node], low[used]);
                }
                else if (onStack.Contains(used))
                {
                    low[node] = Math.Min(low[node], index[used]);
                }
            }

            if (low[node] == index[node])
            {
                var component = new List<string>();
                string member;
                do
                {
                    member = stack.Pop();
                    onStack.Remove(member);
                    component.Add(member);
                }
                while (member != node);

                if (component.Count > 1)
                {
                    component.Sort(StringComparer.Ordinal);
                    components.Add(component);
                }
            }
        }

        foreach (var node in _edges.Keys.Where(Included).ToList())
        {
            if (!index.ContainsKey(node))
            {
                Visit(node);
            }
        }

        return components;
    }

    private void Scan(Type type)
    {
        string? ns = type.Namespace;
        if (ns is null || !IsOwn(ns))
        {
            return; // <PrivateImplementationDetails>, System.Text.RegularExpressions.Generated and the like
        }

        _edges.TryAdd(ns, new Dictionary<string, SortedSet<string>>(StringComparer.Ordinal));
        void Use(Type? used) => Add(ns, type, used);

        Use(type.BaseType);
        foreach (var contract in type.GetInterfaces())
        {
            Use(contract);
        }

        foreach (var attribute in type.GetCustomAttributesData())
        {
            Use(attribute.AttributeType);
        }

        foreach (var field in type.GetFields(Declared))
        {
            Use(field.FieldType);
        }

        foreach (var property in type.GetProperties(Declared))
        {
            Use(property.PropertyType);
        }

        foreach (var @event in type.GetEvents(Declared))
        {
            Use(@event.EventHandlerType);
        }

        var methods = type.GetMethods(Declared).Cast<MethodBase>().Concat(type.GetConstructors(Declared));
        foreach (var method in methods)
        {
            if (method is MethodInfo info)
            {
                Use(info.ReturnType);
            }

            foreach (var parameter in method.GetParameters())
            {
                Use(parameter.ParameterType);
            }

            var body = method.GetMethodBody();
            if (body is null)
            {
                continue;
            }

            foreach (var local in body.LocalVariables)
            {
                Use(local.LocalType);
            }

            foreach (var member in ReferencedMembers(method, body))
            {
                switch (member)
                {
                    case Type referenced:
                        Use(referenced);
                        break;
                    case FieldInfo field:
                        Use(field.DeclaringType);
                        Use(field.FieldType);
                        break;
                    case MethodBase called:
                        Use(called.DeclaringType);
                        if (called is MethodInfo calledInfo)
                        {
                            Use(calledInfo.ReturnType);
                            if (calledInfo.IsGenericMethod)
                            {
                                foreach (var argument in calledInfo.GetGenericArguments())
                                {
                                    Use(argument);
                                }
                            }
                        }

                        break;
                }
            }
        }
    }

    /// <summary>The members named by the type, method and field tokens of one method body's IL.</summary>
    private static IEnumerable<MemberInfo> ReferencedMembers(MethodBase method, MethodBody body)
    {
        var il = body.GetILAsByteArray() ?? [];
        var module = method.Module;
        var typeArguments = method.DeclaringType is { IsGenericType: true } declaring ? declaring.GetGenericArguments() : null;
        var methodArguments = method.IsGenericMethod ? method.GetGenericArguments() : null;
        int position = 0;
        while (position < il.Length)
        {
            short value = il[position++];
            if (value == 0xFE)
            {
                value = unchecked((short)(0xFE00 | il[position++]));
            }

            var opCode = OpCodesByValue[value];
            switch (opCode.OperandType)
            {
                case OperandType.InlineType:
                case OperandType.InlineMethod:
                case OperandType.InlineField:
                case OperandType.InlineTok:
                    int token = BitConverter.ToInt32(il, position);
                    position += 4;
                    yield return module.ResolveMember(token, typeArguments, methodArguments)!;
                    break;
                case OperandType.InlineNone:
                    break;
                case OperandType.ShortInlineBrTarget:
                case OperandType.ShortInlineI:
                case OperandType.ShortInlineVar:
                    position += 1;
                    break;
                case OperandType.InlineVar:
                    position += 2;
                    break;
                case OperandType.InlineI8:
                case OperandType.InlineR:
                    position += 8;
                    break;
                case OperandType.InlineSwitch:
                    int targets = BitConverter.ToInt32(il, position);
                    position += 4 + (4 * targets);
                    break;
                default: // InlineBrTarget, InlineI, InlineSig, InlineString, ShortInlineR
                    position += 4;
                    break;
            }
        }
    }

    private void Add(string ns, Type user, Type? used)
    {
        if (used is null)
        {
            return;
        }

        if (used.HasElementType)
        {
            Add(ns, user, used.GetElementType());
            return;
        }

        if (used.IsGenericType && !used.IsGenericTypeDefinition)
        {
            foreach (var argument in used.GetGenericArguments())
            {
                Add(ns, user, argument);
            }

            Add(ns, user, used.GetGenericTypeDefinition());
            return;
        }

        if (used.IsGenericParameter || used.Assembly != _assembly || used.Namespace is not { } target || target == ns || !IsOwn(target))
        {
            return;
        }

        var uses = _edges[ns];
        if (!uses.TryGetValue(target, out var why))
        {
            why = new SortedSet<string>(StringComparer.Ordinal);
            uses[target] = why;
        }

        why.Add($"{Outermost(user).Name} -> {Outermost(used).Name}");
    }

    /// <summary>A namespace of the assembly's own code (its name's first part), not one the compiler generates
    /// code into.</summary>
    private bool IsOwn(string ns)
    {
        string root = _assembly.GetName().Name!;
        return ns == root || ns.StartsWith(root + ".", StringComparison.Ordinal);
    }

    private static Type Outermost(Type type)
    {
        while (type.DeclaringType is { } outer)
        {
            type = outer;
        }

        return type;
    }
}
