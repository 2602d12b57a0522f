using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace MLTransfer.Tests.Fixtures;

/// <summary>
/// Writes PNG files row by row, so a test can make a 9999×9999 image of a few hundred KB without holding
/// its pixels, and can exercise every colour type, bit depth, filter and interlacing the format has.
/// </summary>
public static class GeneratedPng
{
    /// <summary>Colour type codes of the PNG specification.</summary>
    public enum ColorType : byte { Gray = 0, Rgb = 2, Palette = 3, GrayAlpha = 4, Rgba = 6 }

    /// <summary>A single-colour RGB image (compresses about 1000:1).</summary>
    public static byte[] Solid(int width, int height, byte r, byte g, byte b, bool interlaced = false)
    {
        var row = new byte[3 * width];
        for (var x = 0; x < width; x++)
            (row[3 * x], row[3 * x + 1], row[3 * x + 2]) = (r, g, b);
        return Encode(width, height, ColorType.Rgb, 8, (_, dst) => row.AsSpan(0, dst.Length).CopyTo(dst), interlaced: interlaced, level: CompressionLevel.SmallestSize, filters: false);
    }

    /// <summary>
    /// Encodes an image whose raw (unfiltered, packed) rows <paramref name="fillRow"/> writes on demand.
    /// Rows use filters None, Sub, Up, Average and Paeth in turn, so a decoder meets all five.
    /// </summary>
    /// <param name="width">Width in pixels.</param>
    /// <param name="height">Height in pixels.</param>
    /// <param name="type">Colour type.</param>
    /// <param name="depth">Bits per sample.</param>
    /// <param name="fillRow">Writes row y's packed samples (for an interlaced image: called with the full row, then sampled).</param>
    /// <param name="palette">PLTE entries (RGB triples) for <see cref="ColorType.Palette"/>.</param>
    /// <param name="transparency">tRNS chunk body, or null.</param>
    /// <param name="interlaced">Adam7 interlacing (only for depth 8 and up).</param>
    /// <param name="level">Compression level.</param>
    /// <param name="filters">Cycle through the five filters (false: no filter, which is quicker to write).</param>
    public static byte[] Encode(int width, int height, ColorType type, int depth, Action<int, Span<byte>> fillRow, byte[]? palette = null,
        byte[]? transparency = null, bool interlaced = false, CompressionLevel level = CompressionLevel.Fastest, bool filters = true)
    {
        var channels = type switch { ColorType.Gray or ColorType.Palette => 1, ColorType.Rgb => 3, ColorType.GrayAlpha => 2, _ => 4 };
        var bitsPerPixel = channels * depth;
        if (interlaced && depth < 8)
            throw new ArgumentException("interlacing is generated for whole-byte pixels only");
        var pixelBytes = bitsPerPixel / 8;
        var rowBytes = (width * bitsPerPixel + 7) / 8;
        var png = new MemoryStream();
        png.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        (ihdr[8], ihdr[9], ihdr[12]) = ((byte)depth, (byte)type, (byte)(interlaced ? 1 : 0));
        Chunk(png, "IHDR", ihdr);
        if (palette is not null)
            Chunk(png, "PLTE", palette);
        if (transparency is not null)
            Chunk(png, "tRNS", transparency);

        var compressed = new MemoryStream();
        using (var zlib = new ZLibStream(compressed, level, leaveOpen: true))
        {
            var full = new byte[rowBytes];
            var filterIndex = 0;
            void WriteRows(int count, int bytes, Action<int, byte[]> raw)
            {
                var previous = new byte[bytes];
                var current = new byte[bytes];
                var filtered = new byte[1 + bytes];
                for (var y = 0; y < count; y++)
                {
                    raw(y, current);
                    var filter = filters ? (byte)(filterIndex++ % 5) : (byte)0;
                    filtered[0] = filter;
                    if (filter == 0)
                        current.CopyTo(filtered, 1);
                    else
                        Filter(filter, current, previous, Math.Max(1, pixelBytes), filtered.AsSpan(1));
                    zlib.Write(filtered);
                    (previous, current) = (current, previous);
                }
            }
            if (!interlaced)
                WriteRows(height, rowBytes, (y, row) => fillRow(y, row));
            else
                foreach (var (x0, y0, dx, dy) in Adam7)
                {
                    var (pw, ph) = ((width - x0 + dx - 1) / dx, (height - y0 + dy - 1) / dy);
                    if (pw <= 0 || ph <= 0)
                        continue;
                    WriteRows(ph, pw * pixelBytes, (y, row) =>
                    {
                        fillRow(y0 + y * dy, full);
                        for (var x = 0; x < pw; x++)
                            Buffer.BlockCopy(full, (x0 + x * dx) * pixelBytes, row, x * pixelBytes, pixelBytes);
                    });
                }
        }
        // Split the data over several IDAT chunks, as real encoders do, so readers must join them.
        var data = compressed.ToArray();
        const int chunkSize = 64 * 1024;
        for (var offset = 0; offset < data.Length || offset == 0; offset += chunkSize)
            Chunk(png, "IDAT", data.AsSpan(offset, Math.Min(chunkSize, data.Length - offset)).ToArray());
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    private static readonly (int X0, int Y0, int Dx, int Dy)[] Adam7 =
        [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)];

    private static void Filter(byte filter, ReadOnlySpan<byte> row, ReadOnlySpan<byte> above, int bpp, Span<byte> output)
    {
        for (var i = 0; i < row.Length; i++)
        {
            int a = i >= bpp ? row[i - bpp] : 0, b = above[i], c = i >= bpp ? above[i - bpp] : 0;
            var predictor = filter switch
            {
                0 => 0,
                1 => a,
                2 => b,
                3 => (a + b) >> 1,
                _ => Paeth(a, b, c),
            };
            output[i] = (byte)(row[i] - predictor);
        }
    }

    private static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    private static void Chunk(Stream png, string type, byte[] data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        png.Write(word);
        var name = Encoding.ASCII.GetBytes(type);
        png.Write(name);
        png.Write(data);
        BinaryPrimitives.WriteUInt32BigEndian(word, Crc32(name, data));
        png.Write(word);
    }

    private static readonly uint[] CrcTable = Enumerable.Range(0, 256).Select(n =>
    {
        var c = (uint)n;
        for (var k = 0; k < 8; k++)
            c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        return c;
    }).ToArray();

    private static uint Crc32(byte[] name, byte[] data)
    {
        var c = 0xFFFFFFFFu;
        foreach (var x in name)
            c = CrcTable[(c ^ x) & 0xFF] ^ (c >> 8);
        foreach (var x in data)
            c = CrcTable[(c ^ x) & 0xFF] ^ (c >> 8);
        return c ^ 0xFFFFFFFFu;
    }
}
