// The TLS transport against a real libvirtd that verifies client certificates.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { LibvirtConnection } from "../../../provider/src/libvirt";
import { loadLab, type LabDescription } from "../../lab/lab";
import { definedDomains } from "../../lab/virsh";
import { connectTo } from "./lab-connections";

describe("libvirt client over tls", function () {
  let lab: LabDescription;
  before(() => (lab = loadLab()));

  it("connects with a client certificate and calls the daemon", async () => {
    const conn = await connectTo(lab, lab.hosts[0], "tls");
    assert.equal(await conn.host.hostname(), lab.hosts[0].name);
    // The same domains virsh lists over tcp: the call really went through.
    const names = (await conn.domains.listAll()).map((d) => d.name).sort();
    assert.deepEqual(names, (await definedDomains(lab.hosts[0])).sort());
    await conn.close();
  });

  it("reads certificates from a libvirt pkipath given in the URI", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "vmp-pki-"));
    try {
      for (const [from, to] of [
        [lab.tls.ca, "cacert.pem"],
        [lab.tls.clientCert, "clientcert.pem"],
        [lab.tls.clientKey, "clientkey.pem"],
      ]) {
        execFileSync("cp", [from, path.join(dir, to)]);
      }
      const conn = await LibvirtConnection.open(`${lab.hosts[1].uris.tls}?pkipath=${dir}`);
      assert.equal(await conn.host.hostname(), lab.hosts[1].name);
      await conn.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("is refused by the daemon without a client certificate", async () => {
    const err = await LibvirtConnection.open(lab.hosts[0].uris.tls, {
      tls: { ca: readFileSync(lab.tls.ca, "utf8") },
      connectTimeoutMs: 5000,
    }).catch((e) => e);
    assert.equal(err.code, "VMP_LIBVIRT_AUTH", String(err));
    assert.match(err.message, /refused our TLS client certificate/);
  });

  it("refuses a daemon whose certificate another CA signed", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "vmp-ca-"));
    try {
      execFileSync(
        "openssl",
        [
          "req",
          "-x509",
          "-newkey",
          "rsa:2048",
          "-nodes",
          "-days",
          "1",
          "-subj",
          "/CN=stranger CA",
          "-keyout",
          path.join(dir, "k.pem"),
          "-out",
          path.join(dir, "ca.pem"),
        ],
        { stdio: "ignore" },
      );
      const err = await connectTo(lab, lab.hosts[0], "tls", {
        tls: {
          ca: readFileSync(path.join(dir, "ca.pem"), "utf8"),
          cert: readFileSync(lab.tls.clientCert, "utf8"),
          key: readFileSync(lab.tls.clientKey, "utf8"),
        },
      }).catch((e) => e);
      assert.equal(err.code, "VMP_LIBVIRT_TRANSPORT", String(err));
      assert.match(err.message, /certificate/i);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
