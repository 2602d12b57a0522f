using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using SkiaSharp;

namespace MLTransfer.Tests.Robustness;

/// <summary>
/// Builds the hostile-input corpus in code: files Skia cannot write (16-bit PNG, CMYK JPEG, animated GIF,
/// a PNG header claiming 30000×30000 pixels, EXIF-tagged JPEGs) are assembled byte by byte from the
/// format specifications, so every case is reproducible and needs no external tool.
/// </summary>
public static class HostileFiles
{
    /// <summary>Eight clearly distinct colours, used as cells of asymmetric patterns.</summary>
    public static readonly SKColor[] Palette =
    [
        new(255, 0, 0), new(0, 255, 0), new(0, 0, 255), new(255, 255, 0),
        new(255, 0, 255), new(0, 255, 255), new(255, 255, 255), new(0, 0, 0),
    ];

    /// <summary>Encodes a bitmap with Skia (PNG or JPEG).</summary>
    public static byte[] Encode(SKBitmap bitmap, SKEncodedImageFormat format, int quality = 100)
    {
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(format, quality);
        return data.ToArray();
    }

    /// <summary>A bitmap of <paramref name="cols"/>×<paramref name="rows"/> cells of <paramref name="cell"/> pixels, cell i coloured Palette[i].</summary>
    public static SKBitmap Grid(int cols, int rows, int cell)
    {
        var bitmap = new SKBitmap(new SKImageInfo(cols * cell, rows * cell, SKColorType.Bgra8888, SKAlphaType.Premul));
        using var canvas = new SKCanvas(bitmap);
        for (var r = 0; r < rows; r++)
            for (var c = 0; c < cols; c++)
            {
                using var paint = new SKPaint { Color = Palette[(r * cols + c) % Palette.Length] };
                canvas.DrawRect(c * cell, r * cell, cell, cell, paint);
            }
        return bitmap;
    }

    /// <summary>A photo-like JPEG (random noise) of the given size; noise makes every byte matter, so truncation is visible.</summary>
    public static byte[] NoiseJpeg(int width, int height, int seed)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Bgra8888, SKAlphaType.Premul));
        var rng = new Random(seed);
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
                bitmap.SetPixel(x, y, new SKColor((byte)rng.Next(256), (byte)rng.Next(256), (byte)rng.Next(256)));
        return Encode(bitmap, SKEncodedImageFormat.Jpeg, 90);
    }

    /// <summary>
    /// Inserts an EXIF APP1 segment with the given Orientation tag (1..8) right after the JPEG's SOI marker.
    /// The TIFF block is big-endian ("MM") with a single IFD entry: tag 0x0112, type SHORT, count 1.
    /// </summary>
    public static byte[] WithExifOrientation(byte[] jpeg, int orientation)
    {
        if (jpeg[0] != 0xFF || jpeg[1] != 0xD8) throw new ArgumentException("not a JPEG");
        var app1 = new List<byte> { 0xFF, 0xE1, 0x00, 0x22 };                  // length 34 = 2 + 6 + 8 + 2 + 12 + 4
        app1.AddRange("Exif\0\0"u8.ToArray());
        app1.AddRange(new byte[] { (byte)'M', (byte)'M', 0x00, 0x2A, 0x00, 0x00, 0x00, 0x08 }); // TIFF header, IFD at 8
        app1.AddRange(new byte[] { 0x00, 0x01 });                              // one entry
        app1.AddRange(new byte[] { 0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, (byte)orientation, 0x00, 0x00 });
        app1.AddRange(new byte[] { 0x00, 0x00, 0x00, 0x00 });                  // no next IFD
        return [.. jpeg.AsSpan(0, 2), .. app1, .. jpeg.AsSpan(2)];
    }

    /// <summary>
    /// Where the upright (display) pixel (x, y) comes from in the stored image of size w×h, for an EXIF
    /// orientation, written straight from the TIFF/EXIF definition of the eight values.
    /// </summary>
    public static (int X, int Y) StoredPixelOf(int orientation, int x, int y, int w, int h) => orientation switch
    {
        1 => (x, y),
        2 => (w - 1 - x, y),                 // mirrored horizontally
        3 => (w - 1 - x, h - 1 - y),         // rotated 180°
        4 => (x, h - 1 - y),                 // mirrored vertically
        5 => (y, x),                         // transposed
        6 => (y, h - 1 - x),                 // needs 90° clockwise rotation
        7 => (w - 1 - y, h - 1 - x),         // transversed
        8 => (w - 1 - y, x),                 // needs 90° counter-clockwise rotation
        _ => throw new ArgumentOutOfRangeException(nameof(orientation)),
    };

    // ---------------------------------------------------------------- PNG

    /// <summary>A 16-bit-per-channel RGB PNG (colour type 2, bit depth 16) filled with one colour.</summary>
    public static byte[] Png16(int width, int height, ushort r, ushort g, ushort b)
    {
        var row = new byte[1 + 6 * width];
        for (var x = 0; x < width; x++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(row.AsSpan(1 + 6 * x), r);
            BinaryPrimitives.WriteUInt16BigEndian(row.AsSpan(3 + 6 * x), g);
            BinaryPrimitives.WriteUInt16BigEndian(row.AsSpan(5 + 6 * x), b);
        }
        var raw = new byte[row.Length * height];
        for (var y = 0; y < height; y++) row.CopyTo(raw, y * row.Length);
        return Png(width, height, 16, 2, Zlib(raw));
    }

    /// <summary>
    /// A few hundred bytes whose PNG header claims <paramref name="width"/>×<paramref name="height"/> 8-bit RGB
    /// pixels (a decompression bomb's header); the IDAT holds only the start of the first row.
    /// </summary>
    public static byte[] BombPng(int width = 30000, int height = 30000) =>
        Png(width, height, 8, 2, Zlib(new byte[1024]));

    private static byte[] Png(int width, int height, byte bitDepth, byte colourType, byte[] idat)
    {
        using var ms = new MemoryStream();
        ms.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = bitDepth;
        ihdr[9] = colourType;
        Chunk(ms, "IHDR", ihdr);
        Chunk(ms, "IDAT", idat);
        Chunk(ms, "IEND", []);
        return ms.ToArray();
    }

    private static void Chunk(Stream s, string type, byte[] data)
    {
        Span<byte> len = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(len, data.Length);
        s.Write(len);
        var typeAndData = Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        s.Write(typeAndData);
        BinaryPrimitives.WriteUInt32BigEndian(len, Crc32(typeAndData));
        s.Write(len);
    }

    private static byte[] Zlib(byte[] raw)
    {
        using var ms = new MemoryStream();
        using (var z = new ZLibStream(ms, CompressionLevel.Optimal, leaveOpen: true)) z.Write(raw);
        return ms.ToArray();
    }

    /// <summary>CRC-32 (ISO-HDLC, reflected polynomial 0xEDB88320) as PNG chunks require.</summary>
    public static uint Crc32(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
        }
        return ~crc;
    }

    // ---------------------------------------------------------------- GIF

    /// <summary>
    /// A looping two-frame GIF89a of <paramref name="width"/>×<paramref name="height"/>: frame 1 all
    /// <paramref name="first"/>, frame 2 all <paramref name="second"/>, each covering the whole canvas.
    /// </summary>
    public static byte[] AnimatedGif(int width, int height, SKColor first, SKColor second)
    {
        using var ms = new MemoryStream();
        void U16(int v) { ms.WriteByte((byte)v); ms.WriteByte((byte)(v >> 8)); }
        ms.Write("GIF89a"u8);
        U16(width); U16(height);
        ms.WriteByte(0b1000_0001);                // global colour table, 2^(1+1) = 4 entries
        ms.WriteByte(0); ms.WriteByte(0);         // background index, aspect
        foreach (var c in new[] { first, second, SKColors.Black, SKColors.White })
        {
            ms.WriteByte(c.Red); ms.WriteByte(c.Green); ms.WriteByte(c.Blue);
        }
        ms.Write([0x21, 0xFF, 0x0B, .. "NETSCAPE2.0"u8, 0x03, 0x01, 0x00, 0x00, 0x00]); // loop forever
        for (var frame = 0; frame < 2; frame++)
        {
            ms.Write([0x21, 0xF9, 0x04, 0b0000_0100, 10, 0, 0, 0]); // graphic control: dispose "leave", 0.1 s
            ms.WriteByte(0x2C);
            U16(0); U16(0); U16(width); U16(height);
            ms.WriteByte(0);                      // no local colour table, not interlaced
            ms.WriteByte(2);                      // LZW minimum code size
            var lzw = Lzw((byte)frame, width * height);
            for (var i = 0; i < lzw.Length; i += 255)
            {
                var n = Math.Min(255, lzw.Length - i);
                ms.WriteByte((byte)n);
                ms.Write(lzw, i, n);
            }
            ms.WriteByte(0);                      // block terminator
        }
        ms.WriteByte(0x3B);
        return ms.ToArray();
    }

    /// <summary>
    /// LZW data for <paramref name="count"/> pixels of one index, without real compression: a clear code
    /// before every two pixels keeps the table (and so the code width, 3 bits) from ever growing.
    /// </summary>
    private static byte[] Lzw(byte index, int count)
    {
        const int clear = 4, end = 5;
        var bytes = new List<byte>();
        int acc = 0, bits = 0;
        void Emit(int code)
        {
            acc |= code << bits;
            bits += 3;
            while (bits >= 8) { bytes.Add((byte)acc); acc >>= 8; bits -= 8; }
        }
        for (var i = 0; i < count; i++)
        {
            if (i % 2 == 0) Emit(clear);
            Emit(index);
        }
        Emit(end);
        if (bits > 0) bytes.Add((byte)acc);
        return bytes.ToArray();
    }

    // ---------------------------------------------------------------- JPEG

    /// <summary>A baseline grayscale JPEG (one component) whose 8×8 blocks have the given flat values.</summary>
    public static byte[] GrayJpeg(int width, int height, Func<int, int, byte> blockValue) =>
        FlatBlockJpeg(width, height, 1, (_, bx, by) => blockValue(bx, by), adobe: false);

    /// <summary>
    /// A baseline four-component (CMYK) JPEG with an Adobe APP14 marker (transform 0), as Photoshop writes
    /// them: samples are stored inverted (0 = full ink). Every pixel has the stored values
    /// <paramref name="c"/>, <paramref name="m"/>, <paramref name="y"/>, <paramref name="k"/>.
    /// </summary>
    public static byte[] AdobeCmykJpeg(int width, int height, byte c, byte m, byte y, byte k)
    {
        byte[] values = [c, m, y, k];
        return FlatBlockJpeg(width, height, 4, (comp, _, _) => values[comp], adobe: true);
    }

    /// <summary>
    /// A minimal baseline JPEG encoder for images made of flat 8×8 blocks: quantisation table of ones,
    /// every AC coefficient zero (one-symbol AC table holding only EOB), DC = 8 × (value − 128).
    /// Width and height must be multiples of 8; all components are sampled 1×1.
    /// </summary>
    private static byte[] FlatBlockJpeg(int width, int height, int components, Func<int, int, int, byte> blockValue, bool adobe)
    {
        if (width % 8 != 0 || height % 8 != 0) throw new ArgumentException("multiples of 8 only");
        using var ms = new MemoryStream();
        void Marker(byte code, byte[] payload)
        {
            ms.WriteByte(0xFF); ms.WriteByte(code);
            ms.WriteByte((byte)((payload.Length + 2) >> 8)); ms.WriteByte((byte)(payload.Length + 2));
            ms.Write(payload);
        }
        ms.Write([0xFF, 0xD8]);
        if (adobe)
            Marker(0xEE, [.. "Adobe"u8, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00]);
        Marker(0xDB, [0x00, .. Enumerable.Repeat((byte)1, 64)]);
        var sof = new List<byte> { 8, (byte)(height >> 8), (byte)height, (byte)(width >> 8), (byte)width, (byte)components };
        for (var i = 0; i < components; i++) sof.AddRange(new byte[] { (byte)(i + 1), 0x11, 0 });
        Marker(0xC0, sof.ToArray());
        // DC table: 12 symbols (categories 0..11), all 4-bit codes, so category s has code s.
        var dcCounts = new byte[16];
        dcCounts[3] = 12;
        Marker(0xC4, [0x00, .. dcCounts, .. Enumerable.Range(0, 12).Select(i => (byte)i)]);
        // AC table: only EOB (0x00), code "0".
        var acCounts = new byte[16];
        acCounts[0] = 1;
        Marker(0xC4, [0x10, .. acCounts, 0x00]);
        var sos = new List<byte> { (byte)components };
        for (var i = 0; i < components; i++) sos.AddRange(new byte[] { (byte)(i + 1), 0x00 });
        sos.AddRange(new byte[] { 0, 63, 0 });
        Marker(0xDA, sos.ToArray());

        var bits = new BitWriter();
        var previous = new int[components];
        for (var by = 0; by < height / 8; by++)
            for (var bx = 0; bx < width / 8; bx++)
                for (var comp = 0; comp < components; comp++)
                {
                    var dc = 8 * (blockValue(comp, bx, by) - 128);
                    var diff = dc - previous[comp];
                    previous[comp] = dc;
                    var size = diff == 0 ? 0 : 32 - System.Numerics.BitOperations.LeadingZeroCount((uint)Math.Abs(diff));
                    bits.Write(size, 4);
                    if (size > 0) bits.Write(diff >= 0 ? diff : diff + (1 << size) - 1, size);
                    bits.Write(0, 1); // EOB
                }
        ms.Write(bits.Finish());
        ms.Write([0xFF, 0xD9]);
        return ms.ToArray();
    }

    private sealed class BitWriter
    {
        private readonly List<byte> _bytes = [];
        private int _acc, _count;

        public void Write(int value, int length)
        {
            for (var i = length - 1; i >= 0; i--)
            {
                _acc = (_acc << 1) | ((value >> i) & 1);
                if (++_count == 8) Flush();
            }
        }

        private void Flush()
        {
            _bytes.Add((byte)_acc);
            if (_acc == 0xFF) _bytes.Add(0x00); // byte stuffing
            _acc = 0;
            _count = 0;
        }

        public byte[] Finish()
        {
            while (_count != 0) Write(1, 1); // pad with one bits
            return _bytes.ToArray();
        }
    }
}
