using Fabric.Console;

return await ConsoleApp.RunAsync(args).ConfigureAwait(false);
