using PuppeteerSharp;

namespace Rrq.Tests.Support;

/// <summary>Debian's chromium, headless, driven over its DevTools protocol (test.sh installs it; nothing is downloaded).</summary>
public static class Chromium
{
    public static async Task<IBrowser> LaunchAsync()
    {
        var exe = new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("Debian's chromium is not installed; ./test.sh installs it (apt-get install chromium).");
        var profile = Directory.CreateTempSubdirectory("rrq-chromium-");
        return await Puppeteer.LaunchAsync(new LaunchOptions
        {
            ExecutablePath = exe,
            Headless = true,
            UserDataDir = profile.FullName,
            // As root on a closed network: no sandbox, and nothing that phones home.
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
            Timeout = 60_000,
        });
    }

    /// <summary>Where screenshots go: the test run's artifacts (RRQ_ARTIFACTS, else artifacts/ beside the tests).</summary>
    public static string Artifacts(string part)
    {
        var root = Environment.GetEnvironmentVariable("RRQ_ARTIFACTS") is { Length: > 0 } a ? a : Path.Combine(AppContext.BaseDirectory, "artifacts");
        var dir = Path.Combine(root, part);
        Directory.CreateDirectory(dir);
        return dir;
    }

    public static async Task ScreenshotAsync(IPage page, string name)
    {
        var path = Path.Combine(Artifacts("dashboard"), name + ".png");
        await page.ScreenshotAsync(path, new ScreenshotOptions { FullPage = true });
        Assert.True(new FileInfo(path).Length > 5_000, $"the screenshot {path} is nearly empty");
    }
}
