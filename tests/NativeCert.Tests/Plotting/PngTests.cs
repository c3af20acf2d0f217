using System.Buffers.Binary;
using System.IO.Compression;
using NativeCert.IO;
using NativeCert.Plotting;

namespace NativeCert.Tests.Plotting;

public sealed class PngTests
{
    /// <summary>Independent minimal decoder: checks signature, chunk CRCs and IHDR, inflates, unfilters type-0 lines.</summary>
    internal static (int Width, int Height, byte[] Rgb) Decode(byte[] png)
    {
        Assert.True(png.AsSpan(0, 8).SequenceEqual(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 13, 10, 26, 10 }));
        int pos = 8, width = 0, height = 0;
        var idat = new MemoryStream();
        var types = new List<string>();
        while (pos < png.Length)
        {
            int len = (int)BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(pos));
            string type = System.Text.Encoding.ASCII.GetString(png, pos + 4, 4);
            var data = png.AsSpan(pos + 8, len);
            uint crc = BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(pos + 8 + len));
            Assert.Equal(Crc32.Compute(png.AsSpan(pos + 4, len + 4)), crc);
            types.Add(type);
            if (type == "IHDR")
            {
                width = (int)BinaryPrimitives.ReadUInt32BigEndian(data);
                height = (int)BinaryPrimitives.ReadUInt32BigEndian(data[4..]);
                Assert.Equal(new byte[] { 8, 2, 0, 0, 0 }, data[8..13].ToArray());
            }
            if (type == "IDAT") idat.Write(data);
            pos += 12 + len;
        }
        Assert.Equal(["IHDR", "IDAT", "IEND"], types);
        idat.Position = 0;
        var raw = new MemoryStream();
        using (var z = new ZLibStream(idat, CompressionMode.Decompress)) z.CopyTo(raw);
        byte[] bytes = raw.ToArray();
        Assert.Equal((width * 3 + 1) * height, bytes.Length);
        var rgb = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
        {
            Assert.Equal(0, bytes[y * (width * 3 + 1)]);
            Array.Copy(bytes, y * (width * 3 + 1) + 1, rgb, y * width * 3, width * 3);
        }
        return (width, height, rgb);
    }

    [Fact]
    public void EncodedPixelsDecodeBack()
    {
        var canvas = new Canvas(7, 5, Rgb.White);
        canvas.SetPixel(3, 2, new Rgb(10, 20, 30));
        var (w, h, rgb) = Decode(canvas.ToPng());
        Assert.Equal((7, 5), (w, h));
        Assert.Equal(canvas.Pixels, rgb);
    }

    [Fact]
    public void KnownPlotHasItsLinesAxesAndTextWhereExpected()
    {
        var red = LinePlot.Palette[3];
        var plot = new LinePlot { Title = "Test plot", XLabel = "radius", YLabel = "certified accuracy", XMin = 0, XMax = 1 };
        plot.Series.Add(new PlotSeries("flat", [(0.0, 0.5), (1.0, 0.5)], red));
        var canvas = plot.Render(400, 300);
        var (w, h, rgb) = Decode(canvas.ToPng());
        Assert.Equal((400, 300), (w, h));
        Rgb At(int x, int y) => new(rgb[(y * w + x) * 3], rgb[(y * w + x) * 3 + 1], rgb[(y * w + x) * 3 + 2]);

        var (left, top, pw, ph) = LinePlot.PlotArea(400, 300);
        // The horizontal line at y = 0.5 runs across the middle of the plotting area (3 px pen).
        int yMid = top + ph - 1 - (int)Math.Round(0.5 * (ph - 1));
        Assert.Equal(red, At(left + 5, yMid));
        Assert.Equal(red, At(left + pw / 2 - 40, yMid + 1));
        Assert.NotEqual(red, At(left + 5, yMid + 3));
        // Axis frame, white background outside it, and some dark title pixels in the title band.
        Assert.Equal(Rgb.Axis, At(left, top + ph / 4));
        Assert.Equal(Rgb.White, At(2, 2));
        int dark = 0;
        for (int y = 14; y < 30; y++) for (int x = 0; x < w; x++) if (At(x, y) == Rgb.Black) dark++;
        Assert.InRange(dark, 50, 2000);
        // Deterministic bytes.
        Assert.Equal(canvas.ToPng(), plot.Render(400, 300).ToPng());
    }

    [Fact]
    public void GlyphsAreTheFiveBySevenFont()
    {
        // 'T': top row full, stem in the middle column.
        for (int c = 0; c < 5; c++) Assert.True(BitmapFont.IsSet('T', c, 0));
        Assert.True(BitmapFont.IsSet('T', 2, 6));
        Assert.False(BitmapFont.IsSet('T', 0, 6));
        Assert.Equal(17, BitmapFont.MeasureWidth("abc", 1));
    }

    [Fact]
    public void NiceTicksUseOneTwoFiveSteps()
    {
        Assert.Equal([0, 0.2, 0.4, 0.6000000000000001, 0.8, 1], LinePlot.NiceTicks(0, 1, 6));
        Assert.Equal([0, 20, 40, 60, 80, 100], LinePlot.NiceTicks(0, 100, 6));
    }
}
