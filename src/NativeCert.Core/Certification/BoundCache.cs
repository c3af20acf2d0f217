using System.Collections.Concurrent;

namespace NativeCert.Certification;

/// <summary>
/// Memoizes Clopper–Pearson bounds and their normal quantiles per (k, n, α). Certifying millions of inputs
/// with N models sees at most N + 1 distinct k, so each bound is solved once. Thread-safe: entries are
/// deterministic, so concurrent first computations race benignly to the same value.
/// </summary>
internal sealed class BoundCache
{
    /// <summary>Up to this n a table holds dense arrays indexed by k; above it a dictionary.</summary>
    private const long DenseLimit = 1 << 18;

    private readonly ConcurrentDictionary<(long N, double Alpha), Table> _tables = new();

    /// <summary>Same as <see cref="ClopperPearson.Lower"/>, memoized.</summary>
    public double Lower(long k, long n, double alpha) => GetTable(n, alpha).Lower(k);

    /// <summary>Same as <see cref="ClopperPearson.Upper"/>, memoized.</summary>
    public double Upper(long k, long n, double alpha) => GetTable(n, alpha).Upper(k);

    /// <summary>Φ⁻¹ of the lower bound, memoized.</summary>
    public double LowerQuantile(long k, long n, double alpha) => GetTable(n, alpha).LowerQuantile(k);

    /// <summary>Φ⁻¹ of the upper bound, memoized.</summary>
    public double UpperQuantile(long k, long n, double alpha) => GetTable(n, alpha).UpperQuantile(k);

    /// <summary>Number of distinct (n, α) tables held.</summary>
    public int TableCount => _tables.Count;

    internal Table GetTable(long n, double alpha)
    {
        if (n < 0) throw new ArgumentOutOfRangeException(nameof(n), n, "trial count must be non-negative");
        if (!(alpha > 0 && alpha < 1)) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "alpha must be in (0, 1)");
        return _tables.GetOrAdd((n, alpha), key => new Table(key.N, key.Alpha));
    }

    /// <summary>All bounds for one (n, α). Slots: 0 lower, 1 upper, 2 Φ⁻¹(lower), 3 Φ⁻¹(upper); NaN = not yet solved.</summary>
    internal sealed class Table
    {
        public readonly long N;
        public readonly double Alpha;
        private readonly double[]? _dense;                                        // (N+1, 4)
        private readonly ConcurrentDictionary<long, double>? _sparse;             // key 4k + slot

        public Table(long n, double alpha)
        {
            N = n;
            Alpha = alpha;
            if (n <= DenseLimit)
            {
                _dense = new double[(n + 1) * 4];
                Array.Fill(_dense, double.NaN);
            }
            else _sparse = new ConcurrentDictionary<long, double>();
        }

        public double Lower(long k) => Get(k, 0);
        public double Upper(long k) => Get(k, 1);
        public double LowerQuantile(long k) => Get(k, 2);
        public double UpperQuantile(long k) => Get(k, 3);

        private double Get(long k, int slot)
        {
            if ((ulong)k > (ulong)N) throw new ArgumentOutOfRangeException(nameof(k), k, $"success count must be in [0, n={N}]");
            if (_dense is not null)
            {
                long i = k * 4 + slot;
                double v = _dense[i];
                if (double.IsNaN(v)) { v = Compute(k, slot); _dense[i] = v; }
                return v;
            }
            return _sparse!.GetOrAdd(k * 4 + slot, key => Compute(key >> 2, (int)(key & 3)));
        }

        private double Compute(long k, int slot) => slot switch
        {
            0 => ClopperPearson.Lower(k, N, Alpha),
            1 => ClopperPearson.Upper(k, N, Alpha),
            2 => NormalQuantile.Inverse(Lower(k)),
            _ => NormalQuantile.Inverse(Upper(k)),
        };
    }
}
