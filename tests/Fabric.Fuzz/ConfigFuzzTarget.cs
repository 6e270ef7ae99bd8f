using System.Text;
using Akka.Configuration;
using Fabric.Configuration;
using Fabric.Actors.Hosting;
using Fabric.Actors.Mirrors;
using Fabric.Actors.Pipelines;
using Fabric.Actors.Mirrors.Registry;

namespace Fabric.Fuzz;

/// <summary>
/// The <c>hocon</c> fuzz target, without SharpFuzz: an operator's configuration file (UTF-8 HOCON)
/// loaded over the reference configuration as fabric-node loads it, then read by the settings
/// readers of <c>fabric.pipelines</c>, <c>fabric.sites</c> and <c>fabric.mirrors</c>. The only failure
/// allowed is <see cref="FabricConfigException"/> (HOCON syntax errors arrive as one too: the loader
/// wraps the HOCON library's <see cref="ConfigurationException"/>, <see cref="FormatException"/>,
/// <see cref="InvalidOperationException"/> and <see cref="ArgumentException"/>), with a one-line message
/// that starts with its path; anything else is a crash. Fabric.Actors.Tests replays
/// regressions/hocon and seeds/hocon through it (this file is linked into that project).
/// </summary>
public static class ConfigFuzzTarget
{
    public const string Name = "hocon";

    // FabricConfig.Reference parses the embedded reference on every access; once is enough here.
    private static readonly Lazy<Config> Reference = new(() => FabricConfig.Reference);

    public static void Run(ReadOnlySpan<byte> input)
    {
        // Inputs on which Akka's HOCON parser loops are refused after this long (10 s in fabric-node).
        var limit = FabricConfig.ParseTimeLimit;
        FabricConfig.ParseTimeLimit = TimeSpan.FromSeconds(1);
        var text = Encoding.UTF8.GetString(input);
        try
        {
            var config = FabricConfig.LoadFromText([("fuzz.conf", text)], Reference.Value);
            _ = PipelineSettingsReader.Read(config);
            _ = FabricNodeSettings.SiteNames(config);
            _ = MirrorBackends.ReadSettings(config);
        }
        catch (FabricConfigException e)
        {
            if (e.Message.Length == 0 || e.Message.Contains('\n', StringComparison.Ordinal) || e.Message.Contains('\r', StringComparison.Ordinal))
            {
                throw new FuzzInvariantException("configuration error is not one line: " + e.Message);
            }

            if (e.Path.Length == 0 || !e.Message.StartsWith(e.Path + ": ", StringComparison.Ordinal))
            {
                throw new FuzzInvariantException("configuration error does not start with its path: " + e.Message);
            }
        }
        finally
        {
            FabricConfig.ParseTimeLimit = limit;
        }
    }
}
