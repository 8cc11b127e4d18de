// The libvirt remote-protocol client: connect with a libvirt URI, then use the typed API.
export { LibvirtConnection, type ConnectOptions } from "./api/connection";
export type { Domain, StoragePool, StorageVol } from "./api/handles";
export { uuidToString, uuidFromString } from "./api/handles";
export type { JobStats, JobType, DomainInfo, DomainStateName, BlockJobInfo } from "./api/domains";
export type { MigrationParams, MigrateFlagName } from "./api/migration";
export type { LifecycleEvent, MigrationIterationEvent, JobCompletedEvent } from "./api/events";
export type { PoolInfo, VolInfo, VolumeTransfer } from "./api/storage";
export { SECRET_USAGE, type Secret } from "./api/secrets";
export * as constants from "./api/constants.gen";
export {
  LibvirtError,
  LibvirtClientError,
  findLibvirtError,
  isNotFound,
  isConnectionClosed,
} from "./errors";
export { parseLibvirtUri, type LibvirtUri } from "./uri";
export { sha256Fingerprint } from "./transports/known-hosts";
export { sshKeyProblem, type SshKeyProblem } from "./transports/ssh-key";
