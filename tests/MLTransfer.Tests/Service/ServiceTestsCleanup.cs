using NUnit.Framework;

namespace MLTransfer.Tests.Service;

/// <summary>Removes the trained models and served copies once every test in this namespace has run.</summary>
[SetUpFixture]
public class ServiceTestsCleanup
{
    [OneTimeTearDown]
    public void DeleteModels() => ServiceModels.DeleteAll();
}
