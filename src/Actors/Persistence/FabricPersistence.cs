namespace Fabric.Actors.Persistence;

/// <summary>
/// The persistence plugins fabric-node configures (Akka.Persistence.Sql on SQLite or PostgreSQL,
/// see <c>fabric.persistence</c>). Persistent actors use these ids:
/// <code>
/// // in the persistent actor's constructor:
/// JournalPluginId = FabricPersistence.JournalPluginId;
/// SnapshotPluginId = FabricPersistence.SnapshotPluginId;
/// </code>
/// (they are also the defaults, so leaving them out is the same).
/// </summary>
public static class FabricPersistence
{
    /// <summary>The Akka.Persistence.Sql journal.</summary>
    public const string JournalPluginId = "akka.persistence.journal.sql";

    /// <summary>The Akka.Persistence.Sql snapshot store.</summary>
    public const string SnapshotPluginId = "akka.persistence.snapshot-store.sql";
}
