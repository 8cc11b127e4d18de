// The insecure opt-outs a configuration uses: each warned about, naming the host, the setting and
// what it costs; secure settings bring no warning.
import assert from "node:assert/strict";
import * as structPb from "google-protobuf/google/protobuf/struct_pb";
import * as pb from "@pulumi/pulumi/proto/provider_pb";
import { checkConfig, insecureSettings } from "../../../provider/src/server/config";
import { VmPlacementProvider } from "../../../provider/src/server/provider-server";

const host = (name: string, uri: string, peerUri?: string) => ({
  name,
  uri,
  migrationAddress: "10.0.0.5",
  ...(peerUri ? { peerUri } : {}),
});

function warningsFor(raw: Record<string, unknown>): string[] {
  const { config, failures } = checkConfig(raw);
  assert.deepEqual(failures, []);
  return insecureSettings(config!);
}

describe("insecure settings", () => {
  const table: Array<{ name: string; raw: Record<string, unknown>; expect: RegExp[] }> = [
    {
      name: "verified ssh and tls: nothing to say",
      raw: {
        hosts: [
          host("kvm1", "qemu+ssh://root@kvm1/system"),
          host("kvm2", "qemu+tls://kvm2/system"),
        ],
        sshKnownHosts: "kvm1 ssh-ed25519 AAAA",
      },
      expect: [],
    },
    {
      name: "sshInsecureIgnoreHostKeys: every ssh host named",
      raw: {
        hosts: [
          host("kvm1", "qemu+ssh://root@kvm1/system"),
          host("kvm2", "qemu+ssh://root@kvm2/system"),
        ],
        sshInsecureIgnoreHostKeys: true,
      },
      expect: [
        /^host kvm1 \(uri\): sshInsecureIgnoreHostKeys accepts any ssh host key, so anyone on the path to kvm1 can pose as it/,
        /^host kvm2 \(uri\): sshInsecureIgnoreHostKeys/,
      ],
    },
    {
      name: "known_hosts_verify=ignore in one URI",
      raw: {
        hosts: [host("kvm1", "qemu+ssh://root@kvm1/system?known_hosts_verify=ignore")],
      },
      expect: [/^host kvm1 \(uri\): known_hosts_verify=ignore accepts any ssh host key/],
    },
    {
      name: "no_verify=1 for TLS, in the peer URI too",
      raw: {
        hosts: [
          host("kvm1", "qemu+tls://kvm1/system?no_verify=1", "qemu+tls://kvm1/system?no_verify=1"),
        ],
      },
      expect: [
        /^host kvm1 \(uri\): no_verify=1 does not check kvm1's TLS certificate/,
        /^host kvm1 \(peerUri\): no_verify=1/,
      ],
    },
  ];
  for (const t of table) {
    it(t.name, () => {
      const warnings = warningsFor(t.raw);
      assert.equal(warnings.length, t.expect.length, warnings.join("\n"));
      t.expect.forEach((re, i) => assert.match(warnings[i], re));
    });
  }
});

describe("insecure settings through the provider", () => {
  it("CheckConfig, which every preview and update calls, warns on the provider's URN", async () => {
    const provider = new VmPlacementProvider("{}");
    const logged: string[] = [];
    provider.engineLog.log = async (severity, message, urn) => {
      logged.push(`${severity} ${urn} ${message}`);
    };
    const req = new pb.CheckRequest();
    const urn = "urn:pulumi:s::p::pulumi:providers:vmplacement::kvm";
    req.setUrn(urn);
    const hosts = [host("kvm1", "qemu+ssh://root@kvm1/system?known_hosts_verify=ignore")];
    req.setNews(
      structPb.Struct.fromJavaScript({ hosts: JSON.stringify(hosts) } as Record<string, string>),
    );
    const handler = provider.service().checkConfig as (
      call: unknown,
      cb: (err: unknown, r: pb.CheckResponse) => void,
    ) => void;
    for (let run = 0; run < 2; run++)
      await new Promise((resolve, reject) =>
        handler({ request: req }, (err, r) => (err ? reject(err) : resolve(r))),
      );
    assert.equal(logged.length, 2, logged.join("\n"));
    for (const line of logged)
      assert.match(
        line,
        new RegExp(`^warning ${urn} host kvm1 \\(uri\\): known_hosts_verify=ignore`),
      );
  });
});
