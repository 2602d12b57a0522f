using NUnit.Framework;

namespace MLTransfer.Tests;

public class MLTransferExceptionTests
{
    [Test]
    public void Message_IsOneLine_EvenWhenThePathOrTextHoldsLineBreaks()
    {
        var e = new MLTransferException("Cannot read 'a\nb'", "/data/evil\r\nname.jpg", "Rename\tit");
        Assert.That(e.Message, Is.EqualTo("Cannot read 'a\\x0Ab' (/data/evil\\x0D\\x0Aname.jpg). Rename\\x09it"));
        Assert.That(e.Where, Is.EqualTo("/data/evil\r\nname.jpg"), "the properties keep the text as given");
    }

    [Test]
    public void Message_OfOrdinaryText_IsUnchanged()
    {
        var e = new MLTransferException("Dataset folder not found", "/data/café photos", "Check the path");
        Assert.That(e.Message, Is.EqualTo("Dataset folder not found (/data/café photos). Check the path"));
    }
}
