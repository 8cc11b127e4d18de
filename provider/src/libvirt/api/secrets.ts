// libvirt secrets: looking one up by UUID or usage, and reading its value where libvirt allows
// (a secret defined private='yes' never leaves the daemon).
import type { RemoteProgram } from "../rpc/remote-program";
import type { remote_nonnull_secret } from "../protocol/remote-protocol.gen";
import { uuidFromString } from "./handles";

export type Secret = remote_nonnull_secret;

/** virSecretUsageType: what a secret is for; `ceph` holds a cephx key. */
export const SECRET_USAGE = { none: 0, volume: 1, ceph: 2, iscsi: 3, tls: 4, vtpm: 5 } as const;

export class SecretApi {
  constructor(private readonly remote: RemoteProgram) {}

  async byUuid(uuid: string): Promise<Secret> {
    return (await this.remote.call("SECRET_LOOKUP_BY_UUID", { uuid: uuidFromString(uuid) })).secret;
  }

  async byUsage(usageType: number, usageID: string): Promise<Secret> {
    return (await this.remote.call("SECRET_LOOKUP_BY_USAGE", { usageType, usageID })).secret;
  }

  async xml(secret: Secret): Promise<string> {
    return (await this.remote.call("SECRET_GET_XML_DESC", { secret, flags: 0 })).xml;
  }

  /** The secret's value; libvirt refuses (VIR_ERR_INVALID_SECRET) for a private secret. */
  async value(secret: Secret): Promise<Buffer> {
    return (await this.remote.call("SECRET_GET_VALUE", { secret, flags: 0 })).value;
  }
}
