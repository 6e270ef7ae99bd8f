namespace Fabric.Actors;

/// <summary>
/// Marks a message (or a persisted event/snapshot) of Fabric's own. Exactly these types are
/// bound to Hyperion and allowed on the wire (see <c>Serialization/FabricSerialization.cs</c>);
/// any other type is refused by the serializer. Messages that cross nodes are immutable
/// <c>sealed record</c>s in <c>&lt;Feature&gt;Messages.cs</c>.
/// </summary>
#pragma warning disable CA1040 // marker interface: it binds the serializer
public interface IFabricMessage;
#pragma warning restore CA1040
