using System.Diagnostics;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Xml.Linq;
using NativeCert.Tests.Cli;
using NativeCert.Data;
using Xunit.Abstractions;

namespace NativeCert.Tests.Packaging;

/// <summary>
/// The packages and the two samples that consume them, end to end as a user would: <c>dotnet pack</c> into a temporary
/// folder feed, build <c>samples/</c> (PackageReference only) against that feed with their own NuGet config and package
/// folder (so a stale NativeCert in the user's cache can never be used, and none is left there), run the console
/// sample, install and run the tool package, and drive the service over real HTTP on 127.0.0.1.
/// The slowest test of the suite (about 1.5–2.5 min on 2 busy cores): it builds three projects with the real SDK.
/// </summary>
public sealed class PackageSamplesTests : IDisposable
{
#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif
    private static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(8);

    private readonly string _root = Directory.CreateTempSubdirectory("nativecert-package-").FullName;
    private readonly string _repo = FindRepositoryRoot();
    private readonly ITestOutputHelper _output;
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    public PackageSamplesTests(ITestOutputHelper output) => _output = output;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task PackedLibraryAndToolServeBothSamplesOverAnIsolatedFeed()
    {
        string feed = Path.Combine(_root, "feed");
        string version = PackedVersion();

        // 1. Pack both packages. The repository's own restore is left as it is (the user's package folder), so this is
        //    incremental: the solution build has already compiled these projects.
        Pack("src/NativeCert.Package", feed);
        Pack("src/NativeCert.Cli", feed);
        string? origin = GitOrigin();
        CheckLibraryPackage(Path.Combine(feed, $"NativeCert.{version}.nupkg"), origin);
        CheckCommonMetadata(Path.Combine(feed, $"NativeCert.Tool.{version}.nupkg"), "NativeCert.Tool", origin);

        // 2. Build both samples from a copy of samples/, resolving NativeCert from the feed only.
        string samples = Path.Combine(_root, "samples");
        CopySamples(Path.Combine(_repo, "samples"), samples);
        string config = WriteNuGetConfig(feed);
        Dotnet(samples, "build", "Samples.slnx", "-c", "Release", "--configfile", config, $"-p:NativeCertVersion={version}", "-nodeReuse:false");

        // 3. The console sample: TSV header and the first 10 test digits, mostly right.
        var embed = Dotnet(samples, Path.Combine(samples, "EmbedCertify/bin/Release/net10.0/EmbedCertify.dll"));
        var lines = embed.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("idx\tlabel\tprediction\tradius", lines[0]);
        Assert.Equal(11, lines.Length);
        DataSplit mnist = DatasetCatalog.Load("mnist");
        int right = 0;
        for (int i = 0; i < 10; i++)
        {
            var f = lines[i + 1].Split('\t');
            Assert.Equal(i.ToString(), f[0]);
            Assert.Equal(mnist.Test.Labels[i].ToString(), f[1]);
            int prediction = int.Parse(f[2]);
            double radius = double.Parse(f[3], System.Globalization.CultureInfo.InvariantCulture);
            Assert.InRange(prediction, -1, 9);
            Assert.True(prediction == -1 ? radius == 0 : radius >= 0, lines[i + 1]);
            if (prediction == mnist.Test.Labels[i]) right++;
        }
        Assert.True(right >= 6, embed);

        // 4. The tool package installs and finds the built-in MNIST it carries.
        string tools = Path.Combine(_root, "tools");
        Dotnet(_root, "tool", "install", "NativeCert.Tool", "--version", version, "--tool-path", tools, "--configfile", config);
        string info = Run(Path.Combine(tools, "nativecert"), _root, ["data", "info", "--dataset", "mnist", "--json"], TimeSpan.FromMinutes(1));
        using (var json = JsonDocument.Parse(info))
        {
            Assert.Equal(8000, json.RootElement.GetProperty("train").GetProperty("count").GetInt32());
            Assert.StartsWith(tools, json.RootElement.GetProperty("source").GetString());
        }

        // 5. The service, on an ensemble made by `nativecert train`.
        string ensemble = Path.Combine(_root, "ensemble.bin");
        var train = CliRunner.Run("train", "--train-size", "1000", "--models", "20", "--hidden", "32", "--epochs", "3",
                                  "--sigma", "0.25", "--threads", "1", "--out", ensemble);
        Assert.True(train.Code == 0, train.Err);
        await DriveService(Path.Combine(samples, "CertifyService/bin/Release/net10.0/CertifyService.dll"), ensemble, mnist.Test);
    }

    private async Task DriveService(string dll, string ensemble, Dataset test)
    {
        var local = SmoothedClassifier.Load(ensemble);
        int port = FreePort();
        var start = DotnetStart(_root, dll, "--ensemble", ensemble, "--urls", $"http://127.0.0.1:{port}");
        using var service = Process.Start(start)!;
        var log = new StringBuilder();
        service.OutputDataReceived += (_, a) => { lock (log) log.AppendLine(a.Data); };
        service.ErrorDataReceived += (_, a) => { lock (log) log.AppendLine(a.Data); };
        service.BeginOutputReadLine();
        service.BeginErrorReadLine();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(60) };
            await WaitHealthy(http, service, log);

            // One valid input: the same certificate as the library gives in this process (doubles round-trip in JSON).
            var one = await Certify(http, test.Row(0).ToArray());
            AssertSame(local.Certify(test.Row(0)), one);

            // Bad requests: 400 and one line naming the problem.
            await AssertBadRequest(http, "{\"input\":[0.5,", "malformed JSON");
            await AssertBadRequest(http, "{\"input\":[0.5,0.25]}", "2 features");
            await AssertBadRequest(http, "{\"input\":[" + string.Join(",", Enumerable.Repeat("0", 783)) + ",\"NaN\"]}", "feature 783");
            await AssertBadRequest(http, "{\"input\":[" + string.Join(",", Enumerable.Repeat("1e39", 784)) + "]}", "finite");
            await AssertBadRequest(http, "{}", "input");

            // 32 concurrent requests on different inputs: each answer is that input's certificate.
            var rows = Enumerable.Range(0, 32).Select(i => test.Row(i).ToArray()).ToArray();
            var answers = await Task.WhenAll(rows.Select(r => Certify(http, r)));
            for (int i = 0; i < rows.Length; i++) AssertSame(local.Certify(rows[i]), answers[i]);
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health")).StatusCode);
        }
        finally
        {
            if (!service.HasExited) service.Kill(entireProcessTree: true);
            await service.WaitForExitAsync();
        }
    }

    private static async Task<JsonElement> Certify(HttpClient http, float[] input)
    {
        using var response = await http.PostAsJsonAsync("/certify", new { input });
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    private static void AssertSame(NativeCert.Certification.Certificate expected, JsonElement got)
    {
        Assert.Equal(expected.Prediction, got.GetProperty("prediction").GetInt32());
        Assert.Equal(expected.PA, got.GetProperty("p_a").GetDouble());
        Assert.Equal(expected.PB, got.GetProperty("p_b").GetDouble());
        Assert.Equal(expected.Radius, got.GetProperty("radius").GetDouble());
    }

    private static async Task AssertBadRequest(HttpClient http, string body, string mentions)
    {
        using var response = await http.PostAsync("/certify", new StringContent(body, Encoding.UTF8, "application/json"));
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode} {text} for {body[..Math.Min(40, body.Length)]}");
        string error = JsonDocument.Parse(text).RootElement.GetProperty("error").GetString()!;
        Assert.DoesNotContain('\n', error);
        Assert.Contains(mentions, error);
    }

    private static async Task WaitHealthy(HttpClient http, Process service, StringBuilder log)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (service.HasExited) Assert.Fail($"the service exited with {service.ExitCode}: {log}");
            try
            {
                using var health = await http.GetAsync("/health");
                if (health.StatusCode == HttpStatusCode.OK) return;
            }
            catch (HttpRequestException) { }
            await Task.Delay(200);
        }
        Assert.Fail($"the service did not answer /health within 60 s: {log}");
    }

    /// <summary>nupkg: the two assemblies with XML docs, the common metadata (<see cref="CheckCommonMetadata"/>) and the dependencies.</summary>
    private static void CheckLibraryPackage(string path, string? origin)
    {
        var metadata = CheckCommonMetadata(path, "NativeCert", origin);
        using var zip = ZipFile.OpenRead(path);
        var names = zip.Entries.Select(e => e.FullName).ToHashSet();
        foreach (string name in new[] { "lib/net10.0/NativeCert.Core.dll", "lib/net10.0/NativeCert.Core.xml", "lib/net10.0/NativeCert.Kernels.dll",
                                        "lib/net10.0/NativeCert.Kernels.xml", "contentFiles/any/any/data/mnist/mnist-images-idx3-ubyte.gz" })
            Assert.Contains(name, names);
        var dependencies = metadata.Descendants().Where(e => e.Name.LocalName == "dependency").Select(e => (string)e.Attribute("id")!).ToHashSet();
        Assert.Superset(new HashSet<string> { "ILGPU", "ILGPU.Algorithms", "MathNet.Numerics", "System.Numerics.Tensors" }, dependencies);
        Assert.DoesNotContain("NativeCert.Core", dependencies);
    }

    /// <summary>
    /// What a package gallery shows, in the .nuspec: MIT license expression, description, tags, the README and the
    /// LICENSE file inside, and the repository: type git, and the URL of this clone's <c>origin</c> remote when it
    /// has one, else no URL at all (never a placeholder).
    /// </summary>
    private static XElement CheckCommonMetadata(string path, string id, string? origin)
    {
        using var zip = ZipFile.OpenRead(path);
        var names = zip.Entries.Select(e => e.FullName).ToHashSet();
        Assert.Contains("README.md", names);
        Assert.Contains("LICENSE", names);
        using (var license = new StreamReader(zip.GetEntry("LICENSE")!.Open()))
            Assert.Contains("Copyright (c) 2026 NativeCert contributors", license.ReadToEnd());
        using var nuspec = zip.GetEntry($"{id}.nuspec")!.Open();
        var metadata = XDocument.Load(nuspec).Root!.Elements().Single(e => e.Name.LocalName == "metadata");
        XElement? Element(string name) => metadata.Elements().SingleOrDefault(e => e.Name.LocalName == name);
        string Field(string name) => Element(name)?.Value ?? throw new Xunit.Sdk.XunitException($"{id}.nuspec: no <{name}>");
        Assert.Equal("MIT", Field("license"));
        Assert.Equal("expression", (string?)Element("license")!.Attribute("type"));
        Assert.Contains("randomized-smoothing", Field("tags"));
        Assert.Contains("backdoor", Field("description"));
        Assert.Equal("README.md", Field("readme"));
        var repository = Element("repository") ?? throw new Xunit.Sdk.XunitException($"{id}.nuspec: no <repository>");
        Assert.Equal("git", (string?)repository.Attribute("type"));
        Assert.Equal(origin, (string?)repository.Attribute("url"));
        Assert.Equal(origin, Element("projectUrl")?.Value);
        return metadata;
    }

    /// <summary>This clone's <c>origin</c> URL when it is an http(s) address (what packing records as the repository), else null.</summary>
    private string? GitOrigin()
    {
        var start = new ProcessStartInfo("git") { WorkingDirectory = _repo, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in new[] { "remote", "get-url", "origin" }) start.ArgumentList.Add(a);
        try
        {
            using var git = Process.Start(start)!;
            string url = git.StandardOutput.ReadToEnd().Trim();
            git.StandardError.ReadToEnd();
            git.WaitForExit();
            bool web = url.StartsWith("https://", StringComparison.Ordinal) || url.StartsWith("http://", StringComparison.Ordinal);
            return git.ExitCode == 0 && web ? url : null;   // packing records only a web address (Directory.Build.props)
        }
        catch (System.ComponentModel.Win32Exception) { return null; }   // no git: packing finds no remote either
    }

    /// <summary>
    /// Sources: the test feed (NativeCert* only, by source mapping) and the user's package folder used as a read-only
    /// offline source for everything else; packages extract into this test's own folder, never the user's.
    /// </summary>
    private string WriteNuGetConfig(string feed)
    {
        string userPackages = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } p
            ? p : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var doc = new XDocument(new XElement("configuration",
            new XElement("config", new XElement("add", new XAttribute("key", "globalPackagesFolder"), new XAttribute("value", Path.Combine(_root, "packages")))),
            new XElement("packageSources", new XElement("clear"),
                new XElement("add", new XAttribute("key", "test-feed"), new XAttribute("value", feed)),
                new XElement("add", new XAttribute("key", "user-packages"), new XAttribute("value", userPackages))),
            new XElement("packageSourceMapping",
                new XElement("packageSource", new XAttribute("key", "test-feed"),
                    new XElement("package", new XAttribute("pattern", "NativeCert")), new XElement("package", new XAttribute("pattern", "NativeCert.*"))),
                new XElement("packageSource", new XAttribute("key", "user-packages"), new XElement("package", new XAttribute("pattern", "*"))))));
        string path = Path.Combine(_root, "nuget.config");
        doc.Save(path);
        return path;
    }

    private static void CopySamples(string from, string to)
    {
        foreach (string file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            string relative = Path.GetRelativePath(from, file);
            var parts = relative.Split(Path.DirectorySeparatorChar);
            if (parts.Contains("bin") || parts.Contains("obj") || relative == "nuget.config") continue;
            string target = Path.Combine(to, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    /// <summary>The version dotnet pack stamps (root Directory.Build.props), which the samples' default must match.</summary>
    private string PackedVersion()
    {
        static string VersionIn(string props, string element) =>
            XDocument.Load(props).Descendants(element).Select(e => e.Value).First();
        string version = VersionIn(Path.Combine(_repo, "Directory.Build.props"), "Version");
        Assert.Equal(version, VersionIn(Path.Combine(_repo, "samples", "Directory.Build.props"), "NativeCertVersion"));
        return version;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "NativeCert.sln"))) return dir.FullName;
        throw new InvalidOperationException($"NativeCert.sln not found above {AppContext.BaseDirectory}");
    }

    private string Dotnet(string workingDirectory, params string[] args) => Run("dotnet", workingDirectory, args, BuildTimeout);

    private void Pack(string project, string feed) =>
        Run("dotnet", _repo, ["pack", project, "-c", Configuration, "-o", feed, "-nodeReuse:false"], BuildTimeout, isolated: false);

    private ProcessStartInfo DotnetStart(string workingDirectory, params string[] args) => Start("dotnet", workingDirectory, args);

    /// <param name="isolated">NuGet extracts into this test's folder (sample builds, tool install, the apps); false
    /// only for packing the repository's projects, whose restore must stay pointed at the user's package folder.</param>
    private ProcessStartInfo Start(string file, string workingDirectory, string[] args, bool isolated = true)
    {
        var start = new ProcessStartInfo(file) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in args) start.ArgumentList.Add(a);
        var env = start.Environment;
        if (isolated)
        {
            env["NUGET_PACKAGES"] = Path.Combine(_root, "packages");
            env["NUGET_HTTP_CACHE_PATH"] = Path.Combine(_root, "http-cache");
        }
        env["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        env["DOTNET_NOLOGO"] = "1";
        env["MSBUILDDISABLENODEREUSE"] = "1";
        env.Remove(DataRoot.EnvironmentVariable);   // the apps must find the MNIST their package carries
        return start;
    }

    private string Run(string file, string workingDirectory, string[] args, TimeSpan timeout, bool isolated = true)
    {
        var started = _clock.Elapsed;
        using var process = Process.Start(Start(file, workingDirectory, args, isolated))!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{file} {string.Join(' ', args)} did not finish within {timeout}");
        }
        process.WaitForExit();
        _output.WriteLine($"{(_clock.Elapsed - started).TotalSeconds,6:F1} s  {Path.GetFileName(file)} {string.Join(' ', args.Take(2))}");
        Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', args)} exited with {process.ExitCode}:\n{stdout.Result}\n{stderr.Result}");
        return stdout.Result;
    }
}
