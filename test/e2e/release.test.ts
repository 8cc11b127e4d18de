// `make release` (which `make test` runs first): every artifact of one version in
// dist/release/v<version>, as a release publishes them, with SHA256SUMS that verify; each artifact
// says the same version, and the plugin's name is what `pulumi plugin install` fetches from the
// schema's pluginDownloadURL. The packages e2e test installs the examples from these files.
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { run } from "../lab/run";

const REPO_ROOT = path.resolve(__dirname, "..", "..", "..");
const VERSION = (
  JSON.parse(readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as { version: string }
).version;
const RELEASE = path.join(REPO_ROOT, "dist", "release", `v${VERSION}`);

describe("release: one version's files", function () {
  this.timeout(120_000);
  let work: string;
  before(() => (work = mkdtempSync(path.join(os.tmpdir(), "vmp-release-"))));
  after(() => rmSync(work, { recursive: true, force: true }));

  it("holds every artifact, and SHA256SUMS covers each and verifies", async () => {
    const goModule = "goproxy/github.com/vmplacement/vmplacement/sdk/go/@v";
    const expected = [
      `${goModule}/list`,
      `${goModule}/v${VERSION}.info`,
      `${goModule}/v${VERSION}.mod`,
      `${goModule}/v${VERSION}.zip`,
      `pulumi-resource-vmplacement-v${VERSION}-linux-amd64.tar.gz`,
      `pulumi-resource-vmplacement-v${VERSION}-linux-arm64.tar.gz`,
      `pulumi_vmplacement-${VERSION}-py3-none-any.whl`,
      `pulumi_vmplacement-${VERSION}.tar.gz`,
      "schema.json",
      `vmplacement-vmplacement-${VERSION}.tgz`,
    ];
    const sums = readFileSync(path.join(RELEASE, "SHA256SUMS"), "utf8")
      .trim()
      .split("\n")
      .map((line) => line.split(/\s+/)[1]);
    assert.deepEqual(sums, expected);
    const listed = readdirSync(RELEASE, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && e.name !== "SHA256SUMS")
      .map((e) => path.relative(RELEASE, path.join(e.parentPath, e.name)))
      .sort();
    assert.deepEqual(listed, [...expected].sort(), "nothing else is in the release");
    await run("sha256sum", ["-c", "--quiet", "SHA256SUMS"], { cwd: RELEASE });
  });

  it("says one version everywhere: npm package, wheel, Go module, plugin, schema", async () => {
    const npmManifest = await run("tar", [
      "-xzOf",
      path.join(RELEASE, `vmplacement-vmplacement-${VERSION}.tgz`),
      "package/package.json",
    ]);
    const npm = JSON.parse(npmManifest) as {
      version: string;
      pulumi: { version: string; server: string };
    };
    assert.equal(npm.version, VERSION);
    assert.equal(npm.pulumi.version, VERSION);

    // Read with Python's zipfile: the wheel is a zip, and Python is on every machine this runs on.
    const wheelMetadata = await run("python3", [
      "-c",
      "import sys, zipfile; print(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]).decode())",
      path.join(RELEASE, `pulumi_vmplacement-${VERSION}-py3-none-any.whl`),
      `pulumi_vmplacement-${VERSION}.dist-info/METADATA`,
    ]);
    assert.match(wheelMetadata, new RegExp(`^Version: ${VERSION.replace(/\./g, "\\.")}$`, "m"));
    assert.match(wheelMetadata, /^Requires-Dist: pulumi<4\.0\.0,>=3\.259\.0$/m);

    const info = JSON.parse(
      readFileSync(
        path.join(
          RELEASE,
          "goproxy/github.com/vmplacement/vmplacement/sdk/go/@v",
          `v${VERSION}.info`,
        ),
        "utf8",
      ),
    ) as { Version: string };
    assert.equal(info.Version, `v${VERSION}`);

    await run("tar", [
      "-xzf",
      path.join(RELEASE, `pulumi-resource-vmplacement-v${VERSION}-linux-amd64.tar.gz`),
      "-C",
      work,
    ]);
    assert.equal(
      (await run(path.join(work, "pulumi-resource-vmplacement"), ["--version"])).trim(),
      VERSION,
    );

    const schema = JSON.parse(readFileSync(path.join(RELEASE, "schema.json"), "utf8")) as {
      version: string;
      pluginDownloadURL: string;
    };
    assert.equal(schema.version, VERSION);
    // Where releases live: the SDKs ask the engine for the plugin at the schema's address.
    assert.equal(npm.pulumi.server, schema.pluginDownloadURL);
  });
});
