using NativeCert.Cli.Cluster;
using NativeCert.Runs;

namespace NativeCert.Tests.Cluster;

/// <summary>--shard i/K: the K ranges tile [0, T) exactly, sizes differ by at most one, and bad input is refused.</summary>
public sealed class ShardIndexTests
{
    [Fact]
    public void ShardsTileEveryModelExactlyForEveryCountUpToTheModels()
    {
        foreach (int total in new[] { 1, 2, 3, 7, 12, 100, 1013 })
        {
            for (int count = 1; count <= total; count++)
            {
                int covered = 0;
                for (int i = 0; i < count; i++)
                {
                    ModelRange range = new ShardIndex(i, count).RangeOf(total);
                    Assert.Equal(covered, range.Start);
                    int size = range.End - range.Start;
                    Assert.True(size == total / count || size == (total + count - 1) / count, $"T={total} K={count} shard {i}: {size} models");
                    covered = range.End;
                }
                Assert.Equal(total, covered);
            }
        }
    }

    [Fact]
    public void LargeRunsUse64BitProducts()
    {
        // i·T overflows 32 bits here; the last shard must still end at T and the split stay even.
        const int total = 2_000_000_011, count = 1_000_003;
        Assert.Equal(new ModelRange(0, 1999), new ShardIndex(0, count).RangeOf(total));
        Assert.Equal(total, new ShardIndex(count - 1, count).RangeOf(total).End);
        ModelRange middle = new ShardIndex(500_001, count).RangeOf(total);
        Assert.Equal((int)(500_001L * total / count), middle.Start);
        Assert.InRange(middle.End - middle.Start, 1999, 2000);
    }

    [Theory]
    [InlineData("3")]
    [InlineData("1/")]
    [InlineData("a/4")]
    [InlineData("-1/4")]
    [InlineData("4/4")]
    [InlineData("0/0")]
    [InlineData("1/2/3")]
    public void MalformedShardsAreUserErrors(string text)
    {
        var e = Assert.Throws<UserInputException>(() => ShardIndex.Parse(text));
        Assert.StartsWith($"--shard {text}:", e.Message);
    }

    [Fact]
    public void MoreShardsThanModelsIsAUserError()
    {
        Assert.Equal(new ShardIndex(2, 3), ShardIndex.Parse("2/3"));
        var e = Assert.Throws<UserInputException>(() => new ShardIndex(0, 13).RangeOf(12));
        Assert.Contains("13 shards is more than the 12 models", e.Message);
    }
}
