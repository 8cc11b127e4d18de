// The insecure opt-outs a configuration uses: each warned about, naming the host, the setting and
// what it costs; secure settings bring no warning.
import assert from "node:assert/strict";
import { checkConfig, insecureSettings } from "../../../provider/src/server/config";

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
