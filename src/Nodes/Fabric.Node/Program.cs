using Fabric.Node;

return await NodeProgram.RunAsync(args, Console.Error).ConfigureAwait(false);
