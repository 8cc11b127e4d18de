// What a fleet solve asks of a host through libvirt, so that fleet/ needs no connection of its own.
import type { LibvirtConnection } from "../libvirt";
import { objectReader } from "./xml";

const readCapabilities = objectReader();

/** The host CPU model libvirt reports in its capabilities (host/cpu/model). */
export async function hostCpuModel(conn: LibvirtConnection): Promise<string | undefined> {
  const caps = readCapabilities(await conn.host.capabilities(), "capabilities XML") as {
    capabilities?: { host?: { cpu?: { model?: unknown } } };
  };
  const model = caps.capabilities?.host?.cpu?.model;
  // A model with attributes is an object holding its text.
  const text =
    model && typeof model === "object" ? (model as Record<string, unknown>)["#text"] : model;
  return typeof text === "string" ? text : undefined;
}
