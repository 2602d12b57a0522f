using NUnit.Framework;

namespace MLTransfer.Tests.Packaging;

/// <summary>Removes the packed packages and everything built from them once the namespace's tests are done.</summary>
[SetUpFixture]
public class PackagingCleanUp
{
    [OneTimeTearDown]
    public void DeletePackages() => PackedPackages.CleanUp();
}
