// The stream options the benchmarks compare at a bandwidth cap, as policy inputs and the same
// as virsh flags.
import type { MigrationPolicy } from "../provider/src/engine";
import type { VirshMigrateOptions } from "./virsh-migrate";

export const CAP_MIBPS = 40;

export const STREAM_OPTIONS: Array<{
  name: string;
  policy: Partial<MigrationPolicy>;
  virsh: VirshMigrateOptions;
}> = [
  { name: "plain", policy: {}, virsh: {} },
  { name: "xbzrle", policy: { compression: "xbzrle" }, virsh: { compression: "xbzrle" } },
  { name: "mt", policy: { compression: "mt" }, virsh: { compression: "mt" } },
  { name: "2 connections", policy: { parallelConnections: 2 }, virsh: { parallelConnections: 2 } },
  { name: "4 connections", policy: { parallelConnections: 4 }, virsh: { parallelConnections: 4 } },
];
