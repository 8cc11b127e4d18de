// Provider conventions of the configuration, without hosts: environment variables for unset keys,
// secrets kept secret however they arrive, an ssh key checked at preview (encrypted without its
// passphrase, a wrong passphrase, not a key), and ~/.ssh/known_hosts as the default for host keys.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import * as structPb from "google-protobuf/google/protobuf/struct_pb";
import * as pb from "@pulumi/pulumi/proto/provider_pb";
import { VmPlacementProvider } from "../../../provider/src/server/provider-server";
import {
  checkConfig,
  CONFIG_ENVIRONMENT,
  decodeConfigValues,
  SECRET_CONFIG_KEYS,
  withEnvironmentDefaults,
} from "../../../provider/src/server/config";
import { secret } from "../../../provider/src/server/values";

const SSH_HOST = [
  { name: "h1", uri: "qemu+ssh://root@10.0.0.1/system", migrationAddress: "10.0.0.1" },
];
const TCP_HOST = [{ name: "h1", uri: "qemu+tcp://10.0.0.1/system", migrationAddress: "10.0.0.1" }];
const KNOWN =
  "10.0.0.1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

let dir: string;
/** A fresh ed25519 key made by ssh-keygen, encrypted when a passphrase is given. */
function keyFile(name: string, passphrase = ""): string {
  const file = path.join(dir, name);
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", passphrase, "-f", file]);
  return readFileSync(file, "utf8");
}

before(() => (dir = mkdtempSync(path.join(os.tmpdir(), "vmp-conf-"))));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("configuration from environment variables", () => {
  it("fills only keys the stack leaves unset", () => {
    const env = {
      VMPLACEMENT_HOSTS: JSON.stringify(TCP_HOST),
      VMPLACEMENT_SSH_KNOWN_HOSTS: KNOWN,
      VMPLACEMENT_SSH_PRIVATE_KEY: "from-env",
      VMPLACEMENT_TLS_CA_CERT: "",
    };
    const raw = withEnvironmentDefaults({ "vmplacement:sshPrivateKey": "from-stack" }, env);
    const decoded = decodeConfigValues(raw);
    assert.deepEqual(decoded.hosts, TCP_HOST, "JSON from a variable is decoded like config");
    assert.equal(decoded.sshKnownHosts, KNOWN);
    assert.equal(decoded.sshPrivateKey, "from-stack", "the stack's value wins");
    assert.equal("tlsCaCert" in decoded, false, "an empty variable is not a value");
  });

  it("names one variable per key, each a key of the configuration, all secrets among them", () => {
    const variables = Object.values(CONFIG_ENVIRONMENT);
    assert.equal(new Set(variables).size, variables.length);
    for (const v of variables) assert.match(v, /^VMPLACEMENT_[A-Z_]+$/);
    for (const key of SECRET_CONFIG_KEYS) assert.ok(CONFIG_ENVIRONMENT[key], key);
  });

  it("matches the schema's defaultInfo for every string key", () => {
    const schema = JSON.parse(
      readFileSync(path.resolve(__dirname, "..", "..", "..", "..", "schema.json"), "utf8"),
    ) as {
      config: {
        variables: Record<string, { type?: string; defaultInfo?: { environment: string[] } }>;
      };
    };
    for (const [key, variable] of Object.entries(CONFIG_ENVIRONMENT)) {
      const declared = schema.config.variables[key];
      assert.ok(declared, `${key} is a config variable of the schema`);
      if (declared.type === "string")
        assert.deepEqual(declared.defaultInfo?.environment, [variable], key);
      else
        assert.ok(
          JSON.stringify(declared).includes(variable),
          `${key}'s description names ${variable}`,
        );
    }
  });

  it("keeps secret keys secret in CheckConfig's inputs, even when an SDK sent them plain", async () => {
    const handler = new VmPlacementProvider("{}").service().checkConfig as (
      call: unknown,
      cb: (err: unknown, r: pb.CheckResponse) => void,
    ) => void;
    const req = new pb.CheckRequest();
    req.setUrn("urn:pulumi:s::p::pulumi:providers:vmplacement::explicit");
    const news = {
      hosts: JSON.stringify(TCP_HOST),
      sshPrivateKey: keyFile("plain"),
      tlsClientKey: "-----BEGIN PRIVATE KEY-----",
      cephKeys: JSON.stringify({ c: "AQ==" }),
    };
    req.setNews(structPb.Struct.fromJavaScript(news));
    const resp = await new Promise<pb.CheckResponse>((resolve, reject) =>
      handler({ request: req }, (err, r) => (err ? reject(err) : resolve(r))),
    );
    const inputs = resp.getInputs()!.toJavaScript() as Record<string, unknown>;
    assert.equal(inputs.hosts, news.hosts);
    for (const key of ["sshPrivateKey", "tlsClientKey", "cephKeys"] as const)
      assert.deepEqual(inputs[key], secret(news[key]), key);
  });
});

describe("the ssh private key, checked at preview", () => {
  const failuresWith = (config: Record<string, unknown>) =>
    checkConfig({ hosts: TCP_HOST, ...config }).failures.map((f) => `${f.property}: ${f.reason}`);

  it("accepts a plain key, and an encrypted one with its passphrase", () => {
    assert.deepEqual(failuresWith({ sshPrivateKey: keyFile("k1") }), []);
    assert.deepEqual(
      failuresWith({
        sshPrivateKey: keyFile("k2", "s3cret pass"),
        sshPrivateKeyPassphrase: "s3cret pass",
      }),
      [],
    );
  });

  it("names the passphrase an encrypted key lacks, and a wrong one, never the key's text", () => {
    const key = keyFile("k3", "right");
    const [missing] = failuresWith({ sshPrivateKey: key });
    assert.match(
      missing,
      /^sshPrivateKeyPassphrase: sshPrivateKey is encrypted and sshPrivateKeyPassphrase is not set/,
    );
    assert.match(missing, /pulumi config set --secret vmplacement:sshPrivateKeyPassphrase/);
    const [wrong] = failuresWith({ sshPrivateKey: key, sshPrivateKeyPassphrase: "wrong" });
    assert.match(
      wrong,
      /^sshPrivateKeyPassphrase: sshPrivateKeyPassphrase is not the passphrase of sshPrivateKey/,
    );
    for (const text of [missing, wrong]) assert.ok(!text.includes(key.split("\n")[1]));
  });

  it("names a value that is no key, and a passphrase without a key", () => {
    assert.match(
      failuresWith({ sshPrivateKey: "~/.ssh/id_ed25519" })[0],
      /^sshPrivateKey: sshPrivateKey is not a private key ssh can read/,
    );
    assert.match(
      failuresWith({ sshPrivateKeyPassphrase: "x" })[0],
      /^sshPrivateKeyPassphrase: sshPrivateKeyPassphrase is set but sshPrivateKey is not/,
    );
  });

  it("takes a passphrase of digits as the text it is", () => {
    const key = keyFile("k4", "123456");
    const decoded = decodeConfigValues({ sshPrivateKey: key, sshPrivateKeyPassphrase: "123456" });
    assert.equal(decoded.sshPrivateKeyPassphrase, "123456");
    assert.deepEqual(checkConfig({ hosts: TCP_HOST, ...decoded }).failures, []);
  });
});

describe("ssh host keys from ~/.ssh/known_hosts by default", () => {
  const home = process.env.HOME;
  afterEach(() => (process.env.HOME = home));

  it("accepts ssh hosts without sshKnownHosts when the user's known_hosts exists", () => {
    process.env.HOME = mkdtempSync(path.join(dir, "home-"));
    mkdirSync(path.join(process.env.HOME, ".ssh"));
    writeFileSync(path.join(process.env.HOME, ".ssh", "known_hosts"), `${KNOWN}\n`);
    assert.deepEqual(checkConfig({ hosts: SSH_HOST }).failures, []);
  });

  it("says where host keys may come from when none of them is there", () => {
    process.env.HOME = mkdtempSync(path.join(dir, "home-"));
    const [failure] = checkConfig({ hosts: SSH_HOST }).failures;
    assert.equal(failure.property, "sshKnownHosts");
    assert.match(failure.reason, /give sshKnownHosts/);
    assert.ok(failure.reason.includes(path.join(process.env.HOME, ".ssh", "known_hosts")));
    assert.match(failure.reason, /ssh-keyscan -H/);
  });
});
