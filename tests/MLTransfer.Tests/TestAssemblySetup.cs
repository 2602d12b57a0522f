using NUnit.Framework;

namespace MLTransfer.Tests;

/// <summary>Runs once before any test in the assembly.</summary>
[SetUpFixture]
public sealed class TestAssemblySetup
{
    [OneTimeSetUp]
    public void BeforeAnyTest() =>
        // The service tests run the server in this process; cap malloc arenas as the service's own
        // Program does, before the thread pool grows (see MallocArenas).
        MLTransfer.Inference.Hosting.MallocArenas.Limit();
}
