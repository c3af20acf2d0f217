namespace NativeCert.Plotting;

/// <summary>An sRGB colour, 8 bits per channel.</summary>
internal readonly record struct Rgb(byte R, byte G, byte B)
{
    public static readonly Rgb White = new(255, 255, 255);
    public static readonly Rgb Black = new(0, 0, 0);
    public static readonly Rgb Grid = new(225, 225, 225);
    public static readonly Rgb Axis = new(60, 60, 60);
}

/// <summary>
/// An RGB raster <c>(Height, Width, 3)</c> with integer-only drawing (no anti-aliasing), so the same calls
/// always give the same pixels on every machine.
/// </summary>
internal sealed class Canvas
{
    public int Width { get; }
    public int Height { get; }
    /// <summary>Pixels <c>(Height, Width, 3)</c> row-major, top row first.</summary>
    public byte[] Pixels { get; }

    public Canvas(int width, int height, Rgb background)
    {
        Width = width;
        Height = height;
        Pixels = new byte[checked(width * height * 3)];
        FillRect(0, 0, width, height, background);
    }

    public Rgb this[int x, int y]
    {
        get { int i = (y * Width + x) * 3; return new Rgb(Pixels[i], Pixels[i + 1], Pixels[i + 2]); }
    }

    public void SetPixel(int x, int y, Rgb c)
    {
        if ((uint)x >= (uint)Width || (uint)y >= (uint)Height) return;
        int i = (y * Width + x) * 3;
        Pixels[i] = c.R; Pixels[i + 1] = c.G; Pixels[i + 2] = c.B;
    }

    /// <summary>Fills the rectangle with corner (x, y), clipped to the canvas.</summary>
    public void FillRect(int x, int y, int w, int h, Rgb c)
    {
        int x0 = Math.Max(0, x), y0 = Math.Max(0, y), x1 = Math.Min(Width, x + w), y1 = Math.Min(Height, y + h);
        for (int yy = y0; yy < y1; yy++)
            for (int xx = x0; xx < x1; xx++) SetPixel(xx, yy, c);
    }

    public void StrokeRect(int x, int y, int w, int h, Rgb c)
    {
        FillRect(x, y, w, 1, c);
        FillRect(x, y + h - 1, w, 1, c);
        FillRect(x, y, 1, h, c);
        FillRect(x + w - 1, y, 1, h, c);
    }

    /// <summary>
    /// Bresenham line from (x0, y0) to (x1, y1) with a square pen <paramref name="thickness"/> pixels wide;
    /// with <paramref name="dash"/> &gt; 0 the line alternates dash pixels on and off.
    /// </summary>
    public void Line(int x0, int y0, int x1, int y1, Rgb c, int thickness = 1, int dash = 0)
    {
        int dx = Math.Abs(x1 - x0), dy = -Math.Abs(y1 - y0);
        int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
        int err = dx + dy, step = 0;
        int lo = -(thickness - 1) / 2;
        while (true)
        {
            if (dash <= 0 || step / dash % 2 == 0) FillRect(x0 + lo, y0 + lo, thickness, thickness, c);
            step++;
            if (x0 == x1 && y0 == y1) break;
            int e2 = 2 * err;
            if (e2 >= dy) { err += dy; x0 += sx; }
            if (e2 <= dx) { err += dx; y0 += sy; }
        }
    }

    /// <summary>Draws <paramref name="text"/> with its top-left corner at (x, y), each font pixel a scale × scale block.</summary>
    public void Text(int x, int y, string text, Rgb c, int scale = 1)
    {
        for (int i = 0; i < text.Length; i++)
            for (int col = 0; col < BitmapFont.GlyphWidth; col++)
                for (int row = 0; row < BitmapFont.GlyphHeight; row++)
                    if (BitmapFont.IsSet(text[i], col, row))
                        FillRect(x + (i * BitmapFont.Advance + col) * scale, y + row * scale, scale, scale, c);
    }

    /// <summary>Draws text turned 90° counter-clockwise (reading bottom to top), its bottom-left corner at (x, y).</summary>
    public void TextVertical(int x, int y, string text, Rgb c, int scale = 1)
    {
        for (int i = 0; i < text.Length; i++)
            for (int col = 0; col < BitmapFont.GlyphWidth; col++)
                for (int row = 0; row < BitmapFont.GlyphHeight; row++)
                    if (BitmapFont.IsSet(text[i], col, row))
                        FillRect(x + row * scale, y - (i * BitmapFont.Advance + col + 1) * scale, scale, scale, c);
    }

    public byte[] ToPng() => PngEncoder.Encode(Pixels, Width, Height);
}
