using System.Security.Cryptography;
using MLTransfer.Features;
using MLTransfer.Images;
using MLTransfer.Tests.Fixtures;
using NUnit.Framework;
using SkiaSharp;

namespace MLTransfer.Tests.Images;

/// <summary>Views (flip, crop) in the decoder, and the guarantee that the default decode did not change.</summary>
public class AugmentationDecodeTests
{
    private static readonly string[] Files =
    [
        Path.Combine(TestPaths.SharedDataset("flowers"), "daisy", "100080576_f52e8ee070_n.jpg"),
        Path.Combine(TestPaths.SharedDataset("flowers"), "tulips", "10686568196_b1915544a8.jpg"),
        TestPaths.SharedModel(Path.Combine("testimages", "grace_hopper.png")),
    ];

    private static string Digest(DecodedImage image) => Convert.ToHexStringLower(SHA256.HashData(image.Bgra));

    /// <summary>
    /// SHA-256 of the default decode under the decoder version below. Pixels must not change without a new
    /// version, or every cached feature would silently go stale: whoever changes them updates both.
    /// </summary>
    /// <remarks>v3 changed only PNGs over 16 megapixels (decoded row by row), none of the files below.</remarks>
    private const string GoldenDecoderVersion = "decoder-v3";

    private static readonly Dictionary<string, string> Golden = new()
    {
        ["0|IsoCrop|224x224"] = "265ff4ce413333b54e091bc3aa6b7991e3652162e967629117f44243522641c0",
        ["0|IsoPad|192x160"] = "9a6b20a2601a28e8ad230b271926575557e3c593d56ebb4b4f93e3fe92dab5c0",
        ["0|Fill|96x128"] = "e2850545d621c326de2b499bab564be1f1193a0fc3013bdc238e80e00ee059ca",
        ["1|IsoCrop|224x224"] = "8eea14e5d5cb1c954a5d7f48193e84928573143f1ca1c9ff82b347edefc6dd91",
        ["1|IsoPad|192x160"] = "2d1c8a016c5dd68e3c5b32b18209859bd0d491b04981fd4c3411c8f8db5a0abe",
        ["1|Fill|96x128"] = "4cb1ce191c3d7ac489289d3700bb689adda3553276efee3f5620be74edc61725",
        ["2|IsoCrop|224x224"] = "4a9ac1057f937389088818fceacecf281c2d99eccb18517d83637085cd6a84bd",
        ["2|IsoPad|192x160"] = "9fb56093ce498ff8dc130789db02af2dfe353416d796b158c41ded3d132fa157",
        ["2|Fill|96x128"] = "293b0440f11214a2c73f42586bcfd1c41ca9e2a38b4650dc2257711c540e05dc",
    };

    private static IEnumerable<(int File, ResizeMode Mode, int W, int H)> Cases() =>
        from f in Enumerable.Range(0, Files.Length)
        from c in new[] { (ResizeMode.IsoCrop, 224, 224), (ResizeMode.IsoPad, 192, 160), (ResizeMode.Fill, 96, 128) }
        select (f, c.Item1, c.Item2, c.Item3);

    [Test]
    public void Default_decode_is_bit_identical_to_the_recorded_decoder_version()
    {
        Assert.That(FeatureCache.DecoderVersion, Is.EqualTo(GoldenDecoderVersion),
            "The decoder version changed: record the new digests with it");
        var actual = new Dictionary<string, string>();
        foreach (var (f, mode, w, h) in Cases())
            actual[$"{f}|{mode}|{w}x{h}"] = Digest(ImageDecoder.DecodeFile(Files[f], w, h, mode));
        Assert.That(actual, Is.EqualTo(Golden));
    }

    [Test]
    public void Identity_view_and_whole_image_crop_decode_like_no_view()
    {
        foreach (var (f, mode, w, h) in Cases())
        {
            var plain = ImageDecoder.DecodeFile(Files[f], w, h, mode);
            Assert.That(ImageDecoder.DecodeFile(Files[f], w, h, mode, view: ImageView.Identity).Bgra, Is.EqualTo(plain.Bgra));
            Assert.That(ImageDecoder.DecodeFile(Files[f], w, h, mode, view: new ImageView(Crop: new RelativeRect(0, 0, 1, 1))).Bgra, Is.EqualTo(plain.Bgra),
                $"{f} {mode}: a crop of the whole image is no crop");
        }
    }

    [Test]
    public void Flip_view_is_exactly_the_mirrored_default_pixels()
    {
        static byte[] Mirror(DecodedImage image)
        {
            var result = new byte[image.Bgra.Length];
            for (var y = 0; y < image.Height; y++)
                for (var x = 0; x < image.Width; x++)
                    for (var c = 0; c < 4; c++)
                        result[4 * (y * image.Width + x) + c] = image.Bgra[4 * (y * image.Width + image.Width - 1 - x) + c];
            return result;
        }
        foreach (var (f, mode, w, h) in Cases())
        {
            var plain = ImageDecoder.DecodeFile(Files[f], w, h, mode);
            var flipped = ImageDecoder.DecodeFile(Files[f], w, h, mode, view: new ImageView(FlipHorizontal: true));
            Assert.That(flipped.Bgra, Is.Not.EqualTo(plain.Bgra), "real photos are not symmetric");
            Assert.That(flipped.Bgra, Is.EqualTo(Mirror(plain)), $"{f} {mode}");
        }
        var crop = new RelativeRect(0.1f, 0.2f, 0.5f, 0.6f);
        var cropped = ImageDecoder.DecodeFile(Files[0], 224, 224, ResizeMode.IsoCrop, view: new ImageView(Crop: crop));
        Assert.That(ImageDecoder.DecodeFile(Files[0], 224, 224, ResizeMode.IsoCrop, view: new ImageView(true, crop)).Bgra, Is.EqualTo(Mirror(cropped)));
    }

    [Test]
    public void Crop_takes_the_named_region_of_the_upright_image()
    {
        // Left half red, right half blue, a green band across the top quarter.
        using var bitmap = new SKBitmap(new SKImageInfo(400, 200, SKColorType.Bgra8888, SKAlphaType.Premul));
        using (var canvas = new SKCanvas(bitmap))
        {
            canvas.Clear(SKColors.Red);
            using var blue = new SKPaint { Color = SKColors.Blue };
            canvas.DrawRect(200, 0, 200, 200, blue);
            using var green = new SKPaint { Color = SKColors.Lime };
            canvas.DrawRect(0, 0, 400, 50, green);
        }
        using var png = SKImage.FromBitmap(bitmap).Encode(SKEncodedImageFormat.Png, 100);
        var bytes = png.ToArray();
        static (byte B, byte G, byte R) Centre(DecodedImage d) { var o = 4 * (d.Height / 2 * d.Width + d.Width / 2); return (d.Bgra[o], d.Bgra[o + 1], d.Bgra[o + 2]); }
        static bool Uniform(DecodedImage d) => Enumerable.Range(0, d.Width * d.Height).All(i => d.Bgra.AsSpan(4 * i, 4).SequenceEqual(d.Bgra.AsSpan(0, 4)));

        var left = ImageDecoder.Decode(bytes, 32, 32, ResizeMode.Fill, view: new ImageView(Crop: new RelativeRect(0, 0.3f, 0.45f, 0.7f)));
        Assert.That(Uniform(left) && Centre(left) == (0, 0, 255), Is.True, "lower left region is pure red");
        var right = ImageDecoder.Decode(bytes, 32, 32, ResizeMode.IsoCrop, view: new ImageView(Crop: new RelativeRect(0.55f, 0.3f, 0.45f, 0.7f)));
        Assert.That(Uniform(right) && Centre(right) == (255, 0, 0), Is.True, "lower right region is pure blue");
        var top = ImageDecoder.Decode(bytes, 32, 32, ResizeMode.Fill, view: new ImageView(Crop: new RelativeRect(0, 0, 1, 0.2f)));
        Assert.That(Uniform(top) && Centre(top) == (0, 255, 0), Is.True, "top band is pure green");
        Assert.Throws<ArgumentException>(() => ImageDecoder.Decode(bytes, 32, 32, ResizeMode.Fill, view: new ImageView(Crop: new RelativeRect(0.6f, 0, 0.6f, 1))));
    }
}

/// <summary>The deterministic view sampler.</summary>
public class AugmentationViewTests
{
    private const string HashA = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    private const string HashB = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

    [Test]
    public void Views_are_a_pure_function_of_seed_content_and_index()
    {
        var a = new ImageAugmentation { RandomResizedCrops = 6 };
        Assert.That(a.ViewCount, Is.EqualTo(7));
        Assert.That(a.View(HashA, 0), Is.EqualTo(new ImageView(FlipHorizontal: true)), "view 0 is the plain mirror image");
        for (var k = 0; k < a.ViewCount; k++)
            Assert.That(new ImageAugmentation { RandomResizedCrops = 6 }.View(HashA, k), Is.EqualTo(a.View(HashA, k)));
        var crops = Enumerable.Range(1, 6).Select(k => a.View(HashA, k)).ToList();
        Assert.That(crops.Distinct().Count(), Is.EqualTo(6), "crops differ between indices");
        Assert.That(a.View(HashB, 1), Is.Not.EqualTo(a.View(HashA, 1)), "crops differ between images");
        Assert.That((a with { Seed = 1 }).View(HashA, 1), Is.Not.EqualTo(a.View(HashA, 1)), "crops differ between seeds");
        Assert.That(crops.Count(c => c.FlipHorizontal), Is.InRange(1, 5), "crops are mirrored about half the time");
    }

    [Test]
    public void Crops_stay_inside_the_image_within_the_scale_range()
    {
        var a = new ImageAugmentation { HorizontalFlip = false, RandomResizedCrops = 200, MinScale = 0.3f, MaxScale = 0.8f };
        for (var k = 0; k < a.ViewCount; k++)
        {
            var view = a.View(HashA, k);
            Assert.That(view.FlipHorizontal, Is.False);
            var c = view.Crop!.Value;
            Assert.DoesNotThrow(c.Validate);
            // Clamping a side to 1 can only shrink the area below the drawn scale.
            Assert.That(c.Width * c.Height, Is.InRange(0.3f * 0.75f - 1e-4f, 0.8f + 1e-4f));
            Assert.That(c.Width / c.Height, Is.InRange(0.3f, 4f / 3f + 1e-4f));
        }
    }

    [Test]
    public void A_crop_keeps_its_cache_key_when_more_crops_are_asked_for()
    {
        var two = new ImageAugmentation { RandomResizedCrops = 2 };
        var five = two with { RandomResizedCrops = 5 };
        for (var k = 0; k < two.ViewCount; k++)
        {
            Assert.That(five.ViewKey(k), Is.EqualTo(two.ViewKey(k)));
            Assert.That(five.View(HashA, k), Is.EqualTo(two.View(HashA, k)));
        }
        Assert.That(Enumerable.Range(0, five.ViewCount).Select(five.ViewKey).Distinct().Count(), Is.EqualTo(five.ViewCount));
        Assert.That((two with { MinScale = 0.5f }).ViewKey(1), Is.Not.EqualTo(two.ViewKey(1)), "settings that change the crop change the key");
        Assert.Throws<ArgumentOutOfRangeException>(() => two.View(HashA, 3));
        Assert.Throws<MLTransferException>(() => (two with { MinScale = 0 }).Validate());
    }
}
