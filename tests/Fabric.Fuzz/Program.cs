Console.WriteLine("fuzz");
