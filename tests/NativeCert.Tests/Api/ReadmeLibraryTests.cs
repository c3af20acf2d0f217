using NativeCert.Spec;

namespace NativeCert.Tests.Api;

/// <summary>The README's library and spec sections show the real code and the real spec, not a stale copy.</summary>
public class ReadmeLibraryTests
{
    private static readonly string Root = FindRoot();
    private static string Readme => File.ReadAllText(Path.Combine(Root, "README.md")).ReplaceLineEndings("\n");

    [Fact]
    public void Use_as_a_library_shows_the_embed_sample_exactly()
    {
        string section = Section(Readme, "## Use as a library");
        string code = Block(section, "```csharp\n");
        string sample = File.ReadAllText(Path.Combine(Root, "samples/EmbedCertify/Program.cs")).ReplaceLineEndings("\n");
        Assert.True(code == sample, "README \"Use as a library\": the first csharp block must be samples/EmbedCertify/Program.cs as it is");
    }

    [Fact]
    public void The_job_spec_section_shows_the_default_spec_as_config_json_holds_it()
    {
        string json = JobSpec.Default.ToJson().ReplaceLineEndings("\n") + "\n";
        Assert.True(Readme.Contains("```json\n" + json + "```\n", StringComparison.Ordinal),
                    $"README: the job spec section must show JobSpec.Default.ToJson() in a json block:\n{json}");
        // The fields a model is described by, for both kinds.
        foreach (string field in new[] { "`model.kind`", "`model.hidden`", "`model.layers`", "`defense.kind`" })
            Assert.Contains(field, Section(Readme, "**The job spec.**"));
    }

    private static string Section(string text, string heading)
    {
        int start = text.IndexOf(heading, StringComparison.Ordinal);
        Assert.True(start >= 0, $"README has no {heading}");
        int end = text.IndexOf("\n## ", start + heading.Length, StringComparison.Ordinal);
        return end < 0 ? text[start..] : text[start..end];
    }

    private static string Block(string text, string fence)
    {
        int start = text.IndexOf(fence, StringComparison.Ordinal);
        Assert.True(start >= 0, $"no {fence.Trim()} block");
        start += fence.Length;
        int end = text.IndexOf("```\n", start, StringComparison.Ordinal);
        return text[start..end];
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "NativeCert.sln"))) return dir.FullName;
        throw new InvalidOperationException($"NativeCert.sln not found above {AppContext.BaseDirectory}");
    }
}
