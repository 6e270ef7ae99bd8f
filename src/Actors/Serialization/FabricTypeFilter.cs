using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Reflection;
using Hyperion;

namespace Fabric.Actors.Serialization;

/// <summary>
/// Hyperion's type filter for Fabric: decides by name, WITHOUT assembly versions, which types a
/// received payload may instantiate. Hyperion 0.12.2's own <c>allowed-types</c> compares
/// version-qualified names and so rejects every type; this filter strips
/// <c>Version=</c>/<c>Culture=</c>/<c>PublicKeyToken=</c> and checks the type's full name
/// and assembly, including every generic argument and array element type.
/// </summary>
/// <remarks>
/// Allowed: types implementing <see cref="IFabricMessage"/> and enums in <c>Fabric.*</c>
/// assemblies; common BCL values and collections (<see cref="BuiltIn"/>); Akka's surrogates
/// (how Hyperion carries <c>IActorRef</c>, <c>Address</c>, <c>ActorPath</c>); and extra full
/// names from <c>fabric.serialization.allowed-types</c>. Everything else is refused.
/// </remarks>
public sealed class FabricTypeFilter : ITypeFilter
{
    private static readonly ImmutableHashSet<string> CoreAssemblies =
        ["mscorlib", "System.Private.CoreLib", "netstandard", "System.Runtime", "%core%"];

    private readonly ImmutableHashSet<string> _extraNames;
    private readonly ConcurrentDictionary<string, bool> _decisions = new(StringComparer.Ordinal);

    public FabricTypeFilter(IEnumerable<string> extraTypeNames)
    {
        ArgumentNullException.ThrowIfNull(extraTypeNames);
        _extraNames = extraTypeNames.ToImmutableHashSet(StringComparer.Ordinal);
    }

    /// <summary>BCL types that may appear inside Fabric messages.</summary>
    public static IReadOnlyList<Type> BuiltIn { get; } =
    [
        typeof(bool), typeof(byte), typeof(sbyte), typeof(short), typeof(ushort), typeof(int), typeof(uint),
        typeof(long), typeof(ulong), typeof(float), typeof(double), typeof(decimal), typeof(char), typeof(string),
        typeof(Guid), typeof(DateTime), typeof(DateTimeOffset), typeof(TimeSpan), typeof(DateOnly), typeof(TimeOnly),
        typeof(Nullable<>), typeof(KeyValuePair<,>), typeof(List<>), typeof(Dictionary<,>), typeof(HashSet<>),
        typeof(ImmutableArray<>), typeof(ImmutableList<>), typeof(ImmutableDictionary<,>), typeof(ImmutableHashSet<>),
        typeof(ImmutableSortedDictionary<,>), typeof(ImmutableSortedSet<>), typeof(ReadOnlyMemory<>),
        typeof(ValueTuple<,>), typeof(ValueTuple<,,>), typeof(Tuple<,>), typeof(Tuple<,,>),
        typeof(EqualityComparer<>).Assembly.GetType("System.Collections.Generic.GenericEqualityComparer`1")!,
        typeof(Comparer<>).Assembly.GetType("System.Collections.Generic.GenericComparer`1")!,
        typeof(StringComparer), typeof(StringComparer).Assembly.GetType("System.OrdinalComparer")!,
    ];

    /// <inheritdoc />
    public bool IsAllowed(string typeName)
    {
        ArgumentNullException.ThrowIfNull(typeName);
        return _decisions.GetOrAdd(typeName, name =>
        {
            try
            {
                var parsed = TypeNameParser.Parse(name);
                return parsed is not null && IsAllowed(parsed);
            }
            catch (FormatException)
            {
                return false;
            }
        });
    }

    /// <summary>True when the CLR type <paramref name="type"/> is allowed (used to refuse at the sender too).</summary>
    public bool IsAllowed(Type type)
    {
        ArgumentNullException.ThrowIfNull(type);
        if (type.IsArray)
        {
            return IsAllowed(type.GetElementType()!);
        }

        if (type.IsGenericType && !type.IsGenericTypeDefinition)
        {
            return IsAllowed(type.GetGenericTypeDefinition()) && type.GetGenericArguments().All(IsAllowed);
        }

        return IsAllowedDefinition(type.FullName ?? type.Name, type.Assembly.GetName().Name);
    }

    private bool IsAllowed(TypeNameParser.ParsedName parsed)
    {
        if (!IsAllowedDefinition(parsed.FullName, parsed.Assembly))
        {
            return false;
        }

        return parsed.Arguments.All(IsAllowed);
    }

    private bool IsAllowedDefinition(string fullName, string? assembly)
    {
        if (_extraNames.Contains(fullName))
        {
            return true;
        }

        var known = Known.Value;
        if (known.TryGetValue(fullName, out var knownAssembly))
        {
            return assembly is null || SameAssembly(assembly, knownAssembly);
        }

        // Fabric's own assemblies (also ones loaded after start): resolve by name (a Fabric
        // assembly only) and allow messages and enums.
        if (assembly is not null && assembly.StartsWith("Fabric.", StringComparison.Ordinal))
        {
            var type = ResolveFabricType(fullName, assembly);
            return type is not null && IsFabricAllowed(type);
        }

        return false;
    }

    private static bool SameAssembly(string a, string b) =>
        string.Equals(a, b, StringComparison.Ordinal) || (CoreAssemblies.Contains(a) && CoreAssemblies.Contains(b));

    private static Type? ResolveFabricType(string fullName, string assembly)
    {
        var loaded = AppDomain.CurrentDomain.GetAssemblies()
            .FirstOrDefault(a => !a.IsDynamic && a.GetName().Name == assembly);
        return loaded?.GetType(fullName, throwOnError: false);
    }

    private static bool IsFabricAllowed(Type type) =>
        typeof(IFabricMessage).IsAssignableFrom(type) || type.IsEnum;

    private static readonly Lazy<IReadOnlyDictionary<string, string>> Known = new(BuildKnown);

    private static Dictionary<string, string> BuildKnown()
    {
        var known = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var type in BuiltIn)
        {
            known[type.FullName!] = type.Assembly.GetName().Name!;
        }

        // Hyperion carries IActorRef, ActorPath, Address... as Akka surrogates.
        var akka = typeof(Akka.Actor.ActorSystem).Assembly;
        foreach (var type in SafeTypes(akka))
        {
            if (typeof(Akka.Util.ISurrogate).IsAssignableFrom(type) && !type.IsAbstract && type.FullName is not null)
            {
                known[type.FullName] = akka.GetName().Name!;
            }
        }

        return known;
    }

    private static IEnumerable<Type> SafeTypes(Assembly assembly)
    {
        try
        {
            return assembly.GetTypes();
        }
        catch (ReflectionTypeLoadException e)
        {
            return e.Types.Where(t => t is not null)!;
        }
    }
}
