// Opens our libvirt client against lab hosts over each transport the tests cover.
import { readFileSync } from "node:fs";
import path from "node:path";
import { LibvirtConnection, type ConnectOptions } from "../../../provider/src/libvirt";
import type { LabDescription, LabHost } from "../../lab/lab";

export type LabTransport = "tcp" | "ssh" | "unix";

/** ssh passes the key and known_hosts as content (as the provider does); the URI names neither. */
export function connectTo(
  lab: LabDescription,
  host: LabHost,
  transport: LabTransport,
  options: ConnectOptions = {},
): Promise<LibvirtConnection> {
  switch (transport) {
    case "tcp":
      return LibvirtConnection.open(host.uris.tcp, options);
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
