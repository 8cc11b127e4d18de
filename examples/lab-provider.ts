// The lab's hosts as a vmplacement Provider, for the examples: read from the lab description
// (`$VMP_LAB_DIR/lab.json`, written by `make lab-up`), never hard-coded.
import { readFileSync } from "node:fs";
import * as pulumi from "@pulumi/pulumi";
import * as vmplacement from "../sdk/nodejs";

interface LabHost {
  name: string;
  migrationAddress: string;
  uris: { tcp: string; ssh: string };
}

export interface Lab {
  hosts: LabHost[];
  ssh: { privateKey: string; knownHosts: string };
}

export function readLab(): Lab {
  const labDir = process.env.VMP_LAB_DIR ?? "/var/lib/vmplacement-lab";
  return JSON.parse(readFileSync(`${labDir}/lab.json`, "utf8")) as Lab;
}

/**
 * The lab's hosts over ssh, host keys verified, the private key a secret; the daemons reach each
 * other over tcp for the migration itself.
 */
export function labProvider(
  name: string,
  lab: Lab,
  limits: { outbound: number; inbound: number },
): vmplacement.Provider {
  return new vmplacement.Provider(name, {
    hosts: lab.hosts.map((h) => ({
      name: h.name,
      uri: h.uris.ssh,
      peerUri: h.uris.tcp,
      migrationAddress: h.migrationAddress,
    })),
    sshPrivateKey: pulumi.secret(readFileSync(lab.ssh.privateKey, "utf8")),
    sshKnownHosts: readFileSync(lab.ssh.knownHosts, "utf8"),
    maxMigrationsPerHostOutbound: limits.outbound,
    maxMigrationsPerHostInbound: limits.inbound,
  });
}
