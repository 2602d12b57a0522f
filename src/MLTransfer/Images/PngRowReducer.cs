using System.Buffers.Binary;
using System.IO.Compression;
using System.Runtime.InteropServices;
using SkiaSharp;

namespace MLTransfer.Images;

/// <summary>
/// Decodes a non-interlaced PNG one row at a time and averages each <c>box</c>×<c>box</c> block of pixels as
/// its rows arrive, so only a few rows and the reduced image are ever in memory.
/// </summary>
/// <remarks>
/// Skia decodes PNG only into a buffer of the full size (its scanline decoder answers Unimplemented for PNG
/// in SkiaSharp 2.88), so a tiny file of a huge image cost hundreds of MiB (docs/design-notes.md). This reader follows the PNG specification (filters, bit depths, palettes, tRNS);
/// like Skia without a destination colour space it applies no gamma or ICC conversion. Interlaced files are
/// left to Skia (Adam7 passes cannot be averaged row by row).
/// </remarks>
internal static class PngRowReducer
{
    /// <summary>What the chunks say: the image header and where the compressed pixel data lies.</summary>
    internal sealed record Header(int Width, int Height, int BitDepth, int ColorType, List<(int Offset, int Length)> Idat, byte[]? Palette, byte[]? Transparency)
    {
        /// <summary>Samples per pixel for the colour type.</summary>
        public int Channels => ColorType switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, _ => 4 };

        /// <summary>Bytes of one unfiltered row.</summary>
        public long RowBytes => ((long)Width * Channels * BitDepth + 7) / 8;
    }

    private static ReadOnlySpan<byte> Signature => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>
    /// Bytes per pixel of the extra copy Skia holds while decoding an Adam7-interlaced PNG (the whole image in
    /// its stored format); 0 for anything else. Palette images count as 4 in case they are expanded first.
    /// </summary>
    public static int InterlaceBytesPerPixel(ReadOnlySpan<byte> png)
    {
        if (png.Length < 29 || !png.StartsWith(Signature) || png[28] != 1)
            return 0;
        var (depth, type) = (png[24], png[25]);
        return type == 3 ? 4 : (type switch { 0 => 1, 2 => 3, 4 => 2, _ => 4 }) * (depth == 16 ? 2 : 1);
    }

    /// <summary>Reads the chunk layout; null when this is not a PNG this class decodes (Skia then decodes it).</summary>
    public static Header? ReadHeader(ReadOnlySpan<byte> png)
    {
        if (png.Length < 33 || !png.StartsWith(Signature))
            return null;
        int width = 0, height = 0, depth = 0, type = -1;
        byte[]? palette = null, transparency = null;
        var idat = new List<(int, int)>();
        var pos = Signature.Length;
        while (pos + 12 <= png.Length)
        {
            var length = BinaryPrimitives.ReadUInt32BigEndian(png[pos..]);
            var name = png.Slice(pos + 4, 4);
            var start = pos + 8;
            if (length > int.MaxValue || start + (long)length + 4 > png.Length)
            {
                // A chunk cut short: keep what is there, so the decode reports the truncation.
                if (name.SequenceEqual("IDAT"u8))
                    idat.Add((start, png.Length - start));
                break;
            }
            var body = png.Slice(start, (int)length);
            if (name.SequenceEqual("IHDR"u8))
            {
                if (pos != Signature.Length || length != 13 || !CrcMatches(png.Slice(pos + 4, 4 + 13), png[(start + 13)..]))
                    return null;
                (width, height) = (BinaryPrimitives.ReadInt32BigEndian(body), BinaryPrimitives.ReadInt32BigEndian(body[4..]));
                (depth, type) = (body[8], body[9]);
                // Compression and filter method 0 are the only ones defined; interlaced rows cannot be averaged in order.
                if (body[10] != 0 || body[11] != 0 || body[12] != 0 || width <= 0 || height <= 0 || !Supported(type, depth))
                    return null;
            }
            else if (name.SequenceEqual("PLTE"u8))
                palette = body.ToArray();
            else if (name.SequenceEqual("tRNS"u8))
                transparency = body.ToArray();
            else if (name.SequenceEqual("IDAT"u8))
                idat.Add((start, (int)length));
            else if (name.SequenceEqual("IEND"u8))
                break;
            pos = start + (int)length + 4;
        }
        if (type < 0 || (type == 3 && (palette is null || palette.Length % 3 != 0)))
            return null;
        return new Header(width, height, depth, type, idat, palette, transparency);
    }

    private static bool Supported(int type, int depth) => type switch
    {
        0 => depth is 1 or 2 or 4 or 8 or 16,
        3 => depth is 1 or 2 or 4 or 8,
        2 or 4 or 6 => depth is 8 or 16,
        _ => false,
    };

    /// <summary>
    /// Decodes into a premultiplied BGRA bitmap of ⌈width/box⌉×⌈height/box⌉, each pixel the mean of its block
    /// (edge blocks average the pixels they have). Premultiplied values are averaged, so a transparent pixel
    /// adds no colour.
    /// </summary>
    /// <exception cref="ImageDecodeException">Truncated or corrupt pixel data.</exception>
    public static SKBitmap Decode(SKData data, Header header, int box, string? source)
    {
        var (w, h) = (header.Width, header.Height);
        var (rw, rh) = ((w + box - 1) / box, (h + box - 1) / box);
        var rowBytes = checked((int)header.RowBytes);
        var filterStride = Math.Max(1, header.Channels * header.BitDepth / 8);
        var bitmap = new SKBitmap(new SKImageInfo(rw, rh, SKColorType.Bgra8888, SKAlphaType.Premul));
        try
        {
            using var zlib = new ZLibStream(new IdatStream(data, header.Idat), CompressionMode.Decompress);
            var current = new byte[1 + rowBytes];
            var previous = new byte[1 + rowBytes];
            var rgba = new byte[4 * w];
            var sums = new long[4 * rw];
            var output = new byte[4 * rw];
            var pixels = bitmap.GetPixels();
            var stride = bitmap.RowBytes;
            var blockRows = 0;
            var outRow = 0;
            for (var y = 0; y < h; y++)
            {
                zlib.ReadExactly(current);
                Unfilter(current, previous, filterStride);
                ToRgba(header, current, rgba);
                Accumulate(rgba, sums, box);
                (current, previous) = (previous, current);
                if (++blockRows < box && y < h - 1)
                    continue;
                for (var bx = 0; bx < rw; bx++)
                {
                    long n = blockRows * Math.Min(box, w - bx * box);
                    for (var c = 0; c < 4; c++)
                        output[4 * bx + c] = (byte)((sums[4 * bx + c] + n / 2) / n);
                }
                Marshal.Copy(output, 0, pixels + outRow * stride, output.Length);
                Array.Clear(sums);
                blockRows = 0;
                outRow++;
            }
            // Reaching the end of the stream checks its Adler-32, so damage that still inflated to enough bytes
            // is refused like libpng refuses it. Data after the last row is ignored, as libpng does.
            zlib.ReadAtLeast(current, 1, throwOnEndOfStream: false);
            return bitmap;
        }
        catch (Exception e) when (e is EndOfStreamException or InvalidDataException)
        {
            bitmap.Dispose();
            throw new ImageDecodeException(e is EndOfStreamException ? "truncated image data (the file ends before the image does)" : "corrupt image data", source, e);
        }
        catch
        {
            bitmap.Dispose();
            throw;
        }
    }

    // The loops below index arrays rather than spans: test builds run this unoptimised, where a span's
    // indexer is a call per byte and a 100-megapixel image took seconds longer.

    /// <summary>Reverses the PNG filter of one row in place (PNG specification, section 9); byte 0 names the filter.</summary>
    private static void Unfilter(byte[] row, byte[] above, int bpp)
    {
        var n = row.Length;
        switch (row[0])
        {
            case 0:
                break;
            case 1:
                for (var i = 1 + bpp; i < n; i++)
                    row[i] += row[i - bpp];
                break;
            case 2:
                for (var i = 1; i < n; i++)
                    row[i] += above[i];
                break;
            case 3:
                for (var i = 1; i < n; i++)
                    row[i] += (byte)(((i > bpp ? row[i - bpp] : 0) + above[i]) >> 1);
                break;
            case 4:
                for (var i = 1; i < n; i++)
                {
                    int a = i > bpp ? row[i - bpp] : 0, b = above[i], c = i > bpp ? above[i - bpp] : 0;
                    int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
                    row[i] += (byte)(pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
                }
                break;
            default:
                throw new InvalidDataException($"unknown PNG row filter {row[0]}");
        }
    }

    /// <summary>Expands one unfiltered row (after its filter byte) to 8-bit R, G, B, A, not premultiplied.</summary>
    private static void ToRgba(Header header, byte[] filtered, byte[] rgba)
    {
        var w = header.Width;
        var depth = header.BitDepth;
        var key = header.Transparency;
        switch (header.ColorType)
        {
            case 2 when depth == 8 && key is null:
                for (int o = 0, i = 1; o < rgba.Length; o += 4, i += 3)
                {
                    rgba[o] = filtered[i];
                    rgba[o + 1] = filtered[i + 1];
                    rgba[o + 2] = filtered[i + 2];
                    rgba[o + 3] = 255;
                }
                return;
            case 6 when depth == 8:
                Buffer.BlockCopy(filtered, 1, rgba, 0, rgba.Length);
                return;
        }
        var row = filtered.AsSpan(1);
        for (var x = 0; x < w; x++)
        {
            byte r, g, b, a = 255;
            switch (header.ColorType)
            {
                case 0:
                    {
                        var v = Sample(row, x, depth);
                        r = g = b = To8(v, depth);
                        if (key is { Length: >= 2 } && v == BinaryPrimitives.ReadUInt16BigEndian(key))
                            a = 0;
                        break;
                    }
                case 2:
                    {
                        int vr = Sample(row, 3 * x, depth), vg = Sample(row, 3 * x + 1, depth), vb = Sample(row, 3 * x + 2, depth);
                        (r, g, b) = (To8(vr, depth), To8(vg, depth), To8(vb, depth));
                        if (key is { Length: >= 6 } && vr == BinaryPrimitives.ReadUInt16BigEndian(key) && vg == BinaryPrimitives.ReadUInt16BigEndian(key.AsSpan(2))
                            && vb == BinaryPrimitives.ReadUInt16BigEndian(key.AsSpan(4)))
                            a = 0;
                        break;
                    }
                case 3:
                    {
                        var index = Sample(row, x, depth);
                        var palette = header.Palette!;
                        // An index past the palette is an error in the file; libpng shows it as black, so do we.
                        (r, g, b) = 3 * index + 2 < palette.Length ? (palette[3 * index], palette[3 * index + 1], palette[3 * index + 2]) : ((byte)0, (byte)0, (byte)0);
                        if (key is not null && index < key.Length)
                            a = key[index];
                        break;
                    }
                case 4:
                    r = g = b = To8(Sample(row, 2 * x, depth), depth);
                    a = To8(Sample(row, 2 * x + 1, depth), depth);
                    break;
                default:
                    (r, g, b, a) = (To8(Sample(row, 4 * x, depth), depth), To8(Sample(row, 4 * x + 1, depth), depth),
                        To8(Sample(row, 4 * x + 2, depth), depth), To8(Sample(row, 4 * x + 3, depth), depth));
                    break;
            }
            (rgba[4 * x], rgba[4 * x + 1], rgba[4 * x + 2], rgba[4 * x + 3]) = (r, g, b, a);
        }
    }

    /// <summary>The <paramref name="index"/>-th sample of a row of <paramref name="depth"/>-bit samples (packed high bits first).</summary>
    private static int Sample(ReadOnlySpan<byte> row, int index, int depth) => depth switch
    {
        8 => row[index],
        16 => BinaryPrimitives.ReadUInt16BigEndian(row[(2 * index)..]),
        _ => (row[index * depth / 8] >> (8 - depth - index * depth % 8)) & ((1 << depth) - 1),
    };

    private static byte To8(int value, int depth) => depth switch
    {
        8 => (byte)value,
        16 => (byte)((value * 255 + 32767) / 65535),
        _ => (byte)(value * 255 / ((1 << depth) - 1)),
    };

    /// <summary>Adds a row's premultiplied B, G, R, A to the sums of the blocks its pixels fall in.</summary>
    private static void Accumulate(byte[] rgba, long[] sums, int box)
    {
        var w = rgba.Length / 4;
        for (int x = 0, s = 0; x < w; s += 4)
        {
            long r = 0, g = 0, b = 0, a = 0;
            for (var end = Math.Min(w, x + box); x < end; x++)
            {
                var o = 4 * x;
                int pa = rgba[o + 3];
                if (pa == 255)
                {
                    r += rgba[o];
                    g += rgba[o + 1];
                    b += rgba[o + 2];
                }
                else
                {
                    r += (rgba[o] * pa + 127) / 255;
                    g += (rgba[o + 1] * pa + 127) / 255;
                    b += (rgba[o + 2] * pa + 127) / 255;
                }
                a += pa;
            }
            sums[s] += b;
            sums[s + 1] += g;
            sums[s + 2] += r;
            sums[s + 3] += a;
        }
    }

    private static readonly uint[] CrcTable = BuildCrcTable();

    private static uint[] BuildCrcTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            var c = n;
            for (var k = 0; k < 8; k++)
                c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[n] = c;
        }
        return table;
    }

    /// <summary>Checks a chunk's CRC-32 (over its type and data) against the stored one.</summary>
    private static bool CrcMatches(ReadOnlySpan<byte> typeAndData, ReadOnlySpan<byte> stored)
    {
        var c = 0xFFFFFFFFu;
        foreach (var x in typeAndData)
            c = CrcTable[(c ^ x) & 0xFF] ^ (c >> 8);
        return (c ^ 0xFFFFFFFFu) == BinaryPrimitives.ReadUInt32BigEndian(stored);
    }

    /// <summary>The IDAT chunks' data read as one stream, straight from the encoded bytes.</summary>
    private sealed class IdatStream(SKData data, List<(int Offset, int Length)> chunks) : ReadOnlyStream
    {
        private int _chunk;
        private int _offset;

        public override int Read(Span<byte> buffer)
        {
            while (_chunk < chunks.Count && _offset == chunks[_chunk].Length)
                (_chunk, _offset) = (_chunk + 1, 0);
            if (_chunk == chunks.Count)
                return 0;
            var (start, length) = chunks[_chunk];
            var n = Math.Min(buffer.Length, length - _offset);
            data.AsSpan().Slice(start + _offset, n).CopyTo(buffer);
            _offset += n;
            return n;
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
    }
}
