// Storage fencing's talk with Ceph, against a stand-in `ceph` tool written here: one entry per
// client address covering every client on it, the key only in a private keyring file (never an
// argument), the tool's output redacted, and a tool that fails or is missing reported, not thrown.
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  blocklistEntry,
  cephBlocklist,
  type CephStorageFence,
} from "../../../provider/src/fencing/ceph-blocklist";

describe("Ceph blocklist (storage fencing)", () => {
  let dir: string;
  before(() => (dir = mkdtempSync(path.join(os.tmpdir(), "vmp-ceph-tool-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  const KEY = "AQBzc2VjcmV0LWtleS1vZi10aGUtZmVuY2U=";
  /** A `ceph` that logs its arguments and its keyring's content and mode, then runs `body`. */
  function tool(name: string, body: string): string {
    const file = path.join(dir, name);
    writeFileSync(
      file,
      `#!/usr/bin/env bash
echo "$*" >>"${file}.args"
for ((i = 1; i <= $#; i++)); do
  if [[ \${!i} == --keyring ]]; then j=$((i + 1)); cat "\${!j}" >"${file}.keyring"; stat -c %a "\${!j}" >"${file}.mode"; fi
done
${body}
`,
    );
    chmodSync(file, 0o755);
    return file;
  }
  const fence = (command: string, extra: Partial<CephStorageFence> = {}): CephStorageFence => ({
    cluster: "ceph1",
    monitors: ["10.0.0.1:6789", "10.0.0.2:6789"],
    user: "vmplacement-fence",
    key: KEY,
    clientAddresses: ["10.0.0.11", "fd00::11"],
    expireSeconds: 31536000,
    timeoutSeconds: 5,
    command,
    ...extra,
  });

  it("names every client of an address, IPv4 or IPv6", () => {
    assert.equal(blocklistEntry("10.0.0.11"), "10.0.0.11:0/0");
    assert.equal(blocklistEntry("fd00::11"), "[fd00::11]:0/0");
  });

  it("adds one entry per address with its expiry, the key only in a private keyring file", async () => {
    const file = tool("ok", 'echo "blocklisting ${@: -2:1}"');
    const r = await cephBlocklist(fence(file), "add");
    assert.equal(r.ok, true, r.output);
    assert.deepEqual(r.entries, ["10.0.0.11:0/0", "[fd00::11]:0/0"]);
    const calls = readFileSync(`${file}.args`, "utf8").trim().split("\n");
    assert.equal(calls.length, 2);
    assert.match(
      calls[0],
      /^-c \/dev\/null --mon-host 10\.0\.0\.1:6789,10\.0\.0\.2:6789 --name client\.vmplacement-fence --keyring \S+ --connect-timeout 5 osd blocklist add 10\.0\.0\.11:0\/0 31536000$/,
    );
    for (const call of calls) assert.ok(!call.includes(KEY), "the key is not an argument");
    assert.equal(
      readFileSync(`${file}.keyring`, "utf8"),
      `[client.vmplacement-fence]\n\tkey = ${KEY}\n`,
    );
    assert.equal(readFileSync(`${file}.mode`, "utf8").trim(), "600");
  });

  it("removes entries without an expiry", async () => {
    const file = tool("rm", "true");
    assert.equal(
      (await cephBlocklist(fence(file, { clientAddresses: ["10.0.0.11"] }), "rm")).ok,
      true,
    );
    assert.match(readFileSync(`${file}.args`, "utf8"), /osd blocklist rm 10\.0\.0\.11:0\/0\n$/);
  });

  it("reports a refusal with the tool's words, the key redacted, and stops at the first", async () => {
    const file = tool("denied", `echo "Error EACCES: access denied for key ${KEY}" >&2; exit 13`);
    const r = await cephBlocklist(fence(file), "add");
    assert.equal(r.ok, false);
    assert.match(r.output, /Error EACCES: access denied for key \[secret\] \(exit 13\)/);
    assert.ok(!r.output.includes(KEY));
    assert.equal(readFileSync(`${file}.args`, "utf8").trim().split("\n").length, 1);
  });

  it("says what to install when the tool is missing", async () => {
    const r = await cephBlocklist(fence(path.join(dir, "no-such-ceph")), "add");
    assert.equal(r.ok, false);
    assert.match(r.output, /not found: install ceph-common where the provider runs/);
  });
});
