using System.IO.Compression;
using System.Runtime.Versioning;
using MLTransfer.Export;
using NUnit.Framework;

namespace MLTransfer.Tests.Export;

public class ModelPackageTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("mlt-pkg-").FullName;

    [TearDown, UnsupportedOSPlatform("windows")]
    public void TearDown()
    {
        foreach (var d in Directory.GetDirectories(_dir, "*", SearchOption.AllDirectories))
            File.SetUnixFileMode(d, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Directory.Delete(_dir, true);
    }

    [Test]
    public void WriteAtomically_FailureLeavesPreviousFileIntact()
    {
        var path = Path.Combine(_dir, "model.zip");
        File.WriteAllText(path, "previous");
        Assert.Throws<InvalidOperationException>(() => ProcessTemp.WriteAtomically(path, temp =>
        {
            File.WriteAllText(temp, "half");
            throw new InvalidOperationException("disk full");
        }));
        Assert.That(File.ReadAllText(path), Is.EqualTo("previous"));
        Assert.That(Directory.GetFiles(_dir), Has.Length.EqualTo(1), "no temporary file left behind");
    }

    [Test, UnsupportedOSPlatform("windows")]
    public void WriteAtomically_ReadOnlyFolder_IsAClearErrorAndKeepsTheOldFile()
    {
        if (Environment.UserName == "root")
            Assert.Ignore("root bypasses directory permissions; the read-only case cannot be simulated");
        var folder = Directory.CreateDirectory(Path.Combine(_dir, "ro")).FullName;
        var path = Path.Combine(folder, "model.zip");
        File.WriteAllText(path, "previous");
        File.SetUnixFileMode(folder, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        var e = Assert.Throws<MLTransferException>(() => ProcessTemp.WriteAtomically(path, temp => File.WriteAllText(temp, "new")));
        Assert.That(e!.Message, Does.Contain("model.zip"));
        Assert.That(File.ReadAllText(path), Is.EqualTo("previous"));
    }

    [Test]
    public void ReadMetadata_MissingFile_SaysSo()
    {
        var e = Assert.Throws<MLTransferException>(() => ModelPackage.ReadMetadata(Path.Combine(_dir, "none.zip")));
        Assert.That(e!.Message, Does.Contain("not found").And.Contain("none.zip"));
    }

    [Test]
    public void ReadMetadata_NotAZip_IsDamaged()
    {
        var path = Path.Combine(_dir, "bad.zip");
        File.WriteAllText(path, "this is not a zip");
        var e = Assert.Throws<MLTransferException>(() => ModelPackage.ReadMetadata(path));
        Assert.That(e!.Message, Does.Contain("damaged or truncated"));
    }

    [Test]
    public void ReadMetadata_ZipWithoutMetadata_IsNotAnMLTransferModel()
    {
        var path = Path.Combine(_dir, "other.zip");
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Create))
            zip.CreateEntry("something.txt");
        var e = Assert.Throws<MLTransferException>(() => ModelPackage.ReadMetadata(path));
        Assert.That(e!.Message, Does.Contain("not an MLTransfer model"));
    }

    [Test]
    public void ReadMetadata_NewerFormat_AsksForUpgrade()
    {
        var path = Path.Combine(_dir, "future.zip");
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Create))
        using (var w = new StreamWriter(zip.CreateEntry(ModelPackage.MetadataEntry).Open()))
            w.Write("{\"formatVersion\": 99}");
        var e = Assert.Throws<MLTransferException>(() => ModelPackage.ReadMetadata(path));
        Assert.That(e!.Message, Does.Contain("version 99").And.Contain("Upgrade"));
    }
}
