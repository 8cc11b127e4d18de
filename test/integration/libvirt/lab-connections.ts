// Opens our libvirt client against lab hosts over each transport the tests cover.
import { readFileSync } from "node:fs";
import path from "node:path";
import { LibvirtConnection, type ConnectOptions } from "../../../provider/src/libvirt";
import type { LabDescription, LabHost } from "../../lab/lab";

export type LabTransport = "tcp" | "tls" | "ssh" | "unix";

/** ssh and tls pass keys, certificates and known_hosts as content (as the provider does), not paths. */
export function connectTo(
  lab: LabDescription,
  host: LabHost,
  transport: LabTransport,
  options: ConnectOptions = {},
): Promise<LibvirtConnection> {
  switch (transport) {
    case "tcp":
      return LibvirtConnection.open(host.uris.tcp, options);
    case "tls":
      return LibvirtConnection.open(host.uris.tls, {
        tls: {
          ca: readFileSync(lab.tls.ca, "utf8"),
          cert: readFileSync(lab.tls.clientCert, "utf8"),
          key: readFileSync(lab.tls.clientKey, "utf8"),
        },
        ...options,
      });
    case "unix":
      return LibvirtConnection.open(
        `qemu+unix:///system?socket=${path.join(host.dir, "run", "libvirt-sock")}`,
        options,
      );
    case "ssh":
      return LibvirtConnection.open(host.uris.ssh, {
        sshPrivateKey: readFileSync(lab.ssh.privateKey),
        sshKnownHosts: readFileSync(lab.ssh.knownHosts, "utf8"),
        ...options,
      });
  }
}
