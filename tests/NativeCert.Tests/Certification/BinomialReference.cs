using System.Numerics;

namespace NativeCert.Tests.Certification;

/// <summary>
/// Independent references for binomial tails, sharing no code or special functions with the certifier:
/// exact rational arithmetic for small n, and a 200-bit binary floating point sum of pmf ratios for large n.
/// Both compare a tail at an exactly represented double p against an exactly represented α.
/// </summary>
internal static class BinomialReference
{
    /// <summary>v = M / 2^F exactly, for 0 ≤ v ≤ 1.</summary>
    public static (BigInteger M, int F) Dyadic(double v)
    {
        if (v < 0 || v > 1) throw new ArgumentOutOfRangeException(nameof(v));
        if (v == 0) return (BigInteger.Zero, 0);
        long bits = BitConverter.DoubleToInt64Bits(v);
        int exponent = (int)((bits >> 52) & 0x7FF);
        long mantissa = bits & ((1L << 52) - 1);
        int e;
        if (exponent == 0) e = -1074; else { mantissa |= 1L << 52; e = exponent - 1075; }
        // v = mantissa · 2^e with e < 0 for v ≤ 1 (v = 1 gives mantissa 2^52, e = −52).
        return (mantissa, -e);
    }

    /// <summary>Sign of P[Bin(n, p) ≥ k] − α, exactly (small n).</summary>
    public static int CompareUpperTailExact(long k, int n, double p, double alpha)
    {
        var (mp, F) = Dyadic(p);
        BigInteger one = BigInteger.One << F, mq = one - mp;
        // Σ_{j≥k} C(n,j) mp^j mq^(n−j)  vs  α · 2^(F n)
        var powP = new BigInteger[n + 1];
        var powQ = new BigInteger[n + 1];
        powP[0] = powQ[0] = BigInteger.One;
        for (int j = 1; j <= n; j++) { powP[j] = powP[j - 1] * mp; powQ[j] = powQ[j - 1] * mq; }
        BigInteger sum = BigInteger.Zero, binom = BigInteger.One;
        for (int j = 0; j <= n; j++)
        {
            if (j > 0) binom = binom * (n - j + 1) / j;
            if (j >= k) sum += binom * powP[j] * powQ[n - j];
        }
        var (ma, G) = Dyadic(alpha);
        BigInteger lhs = sum << G, rhs = ma << (F * n);
        return lhs.CompareTo(rhs);
    }

    /// <summary>Sign of P[Bin(n, p) ≤ k] − α, exactly (small n).</summary>
    public static int CompareLowerTailExact(long k, int n, double p, double alpha)
    {
        // P[X ≤ k] = P[Bin(n, 1−p) ≥ n−k]; 1 − p is not a double in general, so sum directly.
        var (mp, F) = Dyadic(p);
        BigInteger one = BigInteger.One << F, mq = one - mp;
        BigInteger sum = BigInteger.Zero, binom = BigInteger.One;
        for (int j = 0; j <= n; j++)
        {
            if (j > 0) binom = binom * (n - j + 1) / j;
            if (j <= k) sum += binom * BigInteger.Pow(mp, j) * BigInteger.Pow(mq, n - j);
        }
        var (ma, G) = Dyadic(alpha);
        return (sum << G).CompareTo(ma << (F * n));
    }

    /// <summary>
    /// Sign of (upper ? P[X ≥ k] : P[X ≤ k]) − α for X ~ Bin(n, p), any n: pmf terms relative to the mode via
    /// t(j+1)/t(j) = (n−j)/(j+1) · p/q in 200-bit floating point, normalized by their sum over a window that
    /// leaves out less than e^-(|log α|+80) of the mass.
    /// </summary>
    public static int CompareTailWindowed(long k, long n, double p, double alpha, bool upper)
    {
        if (p == 0) return (upper ? (k == 0 ? 1.0 : 0.0) : 1.0).CompareTo(alpha);
        if (p == 1) return (upper ? 1.0 : (k == n ? 1.0 : 0.0)).CompareTo(alpha);
        var (mp, F) = Dyadic(p);
        BigInteger mq = (BigInteger.One << F) - mp;
        BigFloat ratio = BigFloat.Divide(new BigFloat(mp, 0), new BigFloat(mq, 0));   // p/q
        double mean = n * p, sd = Math.Sqrt(n * p * (1 - p));
        long mode = Math.Min(n, (long)Math.Floor((n + 1) * p));
        double width = Math.Sqrt(2 * (Math.Abs(Math.Log(alpha)) + 80)) * sd + 80;
        long lo = Math.Max(0, Math.Min((long)(mode - width), k - 80));
        long hi = Math.Min(n, Math.Max((long)(mode + width), k + 80));
        BigFloat total = BigFloat.Zero, tail = BigFloat.Zero;
        BigFloat t = BigFloat.One;
        for (long j = mode; j <= hi; j++)
        {
            total = BigFloat.Add(total, t);
            if (upper ? j >= k : j <= k) tail = BigFloat.Add(tail, t);
            if (j < n) t = BigFloat.Multiply(t, ratio).MultiplyDivide(n - j, j + 1);
        }
        t = BigFloat.One;
        for (long j = mode - 1; j >= lo; j--)
        {
            // t(j) = t(j+1) · (j+1) / ((n−j) · p/q)
            t = BigFloat.Divide(t, ratio).MultiplyDivide(j + 1, n - j);
            total = BigFloat.Add(total, t);
            if (upper ? j >= k : j <= k) tail = BigFloat.Add(tail, t);
        }
        var (ma, G) = Dyadic(alpha);
        BigFloat alphaTotal = BigFloat.Multiply(total, new BigFloat(ma, -G));
        return BigFloat.Compare(tail, alphaTotal);
    }

    /// <summary>Minimal binary floating point M · 2^E with about 200 significant bits (truncating).</summary>
    internal readonly struct BigFloat
    {
        private const int Precision = 200;
        public readonly BigInteger M;
        public readonly long E;
        public static readonly BigFloat Zero = new(BigInteger.Zero, 0);
        public static readonly BigFloat One = new(BigInteger.One, 0);

        public BigFloat(BigInteger m, long e)
        {
            long bits = (long)m.GetBitLength();
            if (bits > Precision) { int shift = (int)(bits - Precision); m >>= shift; e += shift; }
            M = m; E = e;
        }

        public static BigFloat Multiply(BigFloat a, BigFloat b) => new(a.M * b.M, a.E + b.E);

        public static BigFloat Divide(BigFloat a, BigFloat b)
        {
            int shift = Precision + (int)b.M.GetBitLength();
            return new BigFloat((a.M << shift) / b.M, a.E - shift - b.E);
        }

        public BigFloat MultiplyDivide(long mul, long div) => new((M * mul << 64) / div, E - 64);

        public static BigFloat Add(BigFloat a, BigFloat b)
        {
            if (a.M.IsZero) return b;
            if (b.M.IsZero) return a;
            if (a.E < b.E) (a, b) = (b, a);
            long gap = a.E - b.E;
            if (gap > 2 * Precision + 64 && a.M.GetBitLength() + gap > b.M.GetBitLength() + 2 * Precision) return a;
            return new BigFloat((a.M << (int)gap) + b.M, b.E);
        }

        public static int Compare(BigFloat a, BigFloat b)
        {
            if (a.M.IsZero || b.M.IsZero) return a.M.Sign.CompareTo(b.M.Sign);
            long ea = a.E + (long)a.M.GetBitLength(), eb = b.E + (long)b.M.GetBitLength();
            if (ea != eb) return ea.CompareTo(eb);
            long e = Math.Min(a.E, b.E);
            return (a.M << (int)(a.E - e)).CompareTo(b.M << (int)(b.E - e));
        }
    }
}
