Console.WriteLine("wemu");
