// Reading and writing libvirt XML: the facts the planner needs from a domain definition, the
// rewrite of disk sources that a storage move makes to the destination XML (an edit of the
// parsed document: what it does not touch keeps its order, text and layout), and the volume and
// block-copy definitions the engine creates. All of it through ./xml.

import type { DiskFacts, DiskPlacement, DomainFacts, NetworkSource } from "./types";
import { authFromXml } from "./storage-identity";
import {
  MOVE_MARKER_KEY,
  MOVE_MARKER_NS,
  moveMarkerAttributes,
  moveMarkerOf,
  type MoveMarker,
} from "./move-marker";
import {
  attrOf,
  buildXml,
  childrenOf,
  element,
  elements,
  objectReader,
  parseXml,
  setAttr,
  tagOf,
  textElement,
  textNode,
  whitespaceOf,
  type XmlNode as OrderedNode,
} from "./xml";

/** A disk as the domain XML describes it (sizes come from the storage layer, not from here). */
export interface ParsedDisk extends Omit<DiskFacts, "capacityBytes" | "allocationBytes"> {
  /** Target bus: virtio, sata, scsi, ide, ... */
  bus?: string;
  /** type='volume' disks: the volume's name in `pool`. */
  volume?: string;
  /** <shareable/> present. */
  shareable: boolean;
  /** The file a running block copy mirrors this disk into (live XML only). */
  mirrorPath?: string;
}

export interface ParsedDomain extends Pick<
  DomainFacts,
  | "name"
  | "uuid"
  | "virtType"
  | "arch"
  | "machine"
  | "memoryBytes"
  | "vcpus"
  | "cpuXml"
  | "cpuMode"
  | "nvram"
  | "moveMarker"
> {
  disks: ParsedDisk[];
  /** One short description per host device passed through, e.g. "pci 0000:03:00.0". */
  hostDevices: string[];
  hasGraphics?: boolean;
}

export interface DiskSourceChange {
  path: string;
  /** New driver type (image format); the driver is left alone when omitted. */
  format?: string;
  /** The new source is network storage (an RBD image): `path` is then its volume path. */
  network?: NetworkSource;
}

/** A network disk's <source> (with its monitors) and the <auth> it is opened with. */
function networkSourceNodes(net: NetworkSource): { source: XmlNode; auth?: XmlNode } {
  const hosts = net.hosts.map((h) =>
    element("host", { name: h.name, ...(h.port !== undefined ? { port: h.port } : {}) }),
  );
  const auth = net.auth
    ? element("auth", { username: net.auth.username }, [
        element("secret", {
          type: "ceph",
          ...(net.auth.secretUuid
            ? { uuid: net.auth.secretUuid }
            : { usage: net.auth.secretUsage ?? "" }),
        }),
      ])
    : undefined;
  return {
    source: element("source", { protocol: net.protocol, name: net.name }, hosts),
    ...(auth ? { auth } : {}),
  };
}

/** The destination of a block copy into a file or an RBD image (virDomainBlockCopy's destxml). */
export function blockCopyDestinationXml(
  filePath: string,
  format: string,
  network?: NetworkSource,
): string {
  if (network) {
    const { source, auth } = networkSourceNodes(network);
    return buildXml([
      element("disk", { type: "network" }, [
        element("driver", { type: format }),
        ...(auth ? [auth] : []),
        source,
      ]),
    ]);
  }
  return buildXml([
    element("disk", { type: "file" }, [
      element("driver", { type: format }),
      element("source", { file: filePath }),
    ]),
  ]);
}

/** A libvirt storage volume definition, for virStorageVolCreateXML. */
export function volumeXml(
  name: string,
  capacityBytes: number,
  format: string,
  backing?: { path: string; format: string },
): string {
  if (!Number.isSafeInteger(capacityBytes) || capacityBytes < 0) {
    throw new Error(`invalid volume capacity ${capacityBytes}`);
  }
  const bytes = (tag: string, value: number) =>
    element(tag, { unit: "bytes" }, [textNode(String(value))]);
  return buildXml(
    [
      element("volume", {}, [
        textElement("name", name),
        bytes("capacity", capacityBytes),
        bytes("allocation", 0),
        element("target", {}, [element("format", { type: format })]),
        ...(backing
          ? [
              element("backingStore", {}, [
                textElement("path", backing.path),
                element("format", { type: backing.format }),
              ]),
            ]
          : []),
      ]),
    ],
    true,
  );
}

// ---------------------------------------------------------------------------------------------
// Parsing

// An element as objectReader gives it (see ./xml).
type XmlNode = Record<string, unknown>;

const ARRAY_PATHS = new Set([
  "domain.devices.disk",
  "domain.devices.disk.source.host",
  "domain.devices.hostdev",
  "domain.devices.interface",
  "domain.devices.graphics",
]);

const readDomainXml = objectReader(ARRAY_PATHS);

function parseDocument(xml: string): XmlNode {
  const domain = asNode(readDomainXml(xml, "domain XML").domain);
  if (!domain) throw new Error("invalid domain XML: no <domain> root element");
  return domain;
}

function asNode(v: unknown): XmlNode | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === "object" && !Array.isArray(v)) return v as XmlNode;
  // A text-only or empty element: present, without attributes or children.
  if (typeof v === "string") return { "#text": v };
  return undefined;
}

function asNodes(v: unknown): XmlNode[] {
  if (v === undefined || v === null) return [];
  const list = Array.isArray(v) ? v : [v];
  return list.map(asNode).filter((n): n is XmlNode => n !== undefined);
}

function child(node: XmlNode | undefined, name: string): XmlNode | undefined {
  if (!node) return undefined;
  const v = node[name];
  return asNode(Array.isArray(v) ? v[0] : v);
}

function attr(node: XmlNode | undefined, name: string): string | undefined {
  const v = node?.[`@_${name}`];
  return v === undefined || v === null ? undefined : String(v);
}

function text(node: XmlNode | undefined): string | undefined {
  if (!node) return undefined;
  const t = node["#text"];
  return t === undefined || t === null ? undefined : String(t).trim();
}

function has(node: XmlNode, name: string): boolean {
  return Object.prototype.hasOwnProperty.call(node, name);
}

const UNIT_BYTES: Record<string, number> = {
  b: 1,
  bytes: 1,
  kb: 1e3,
  k: 1024,
  kib: 1024,
  mb: 1e6,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  gb: 1e9,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  tb: 1e12,
  t: 1024 ** 4,
  tib: 1024 ** 4,
  pb: 1e15,
  p: 1024 ** 5,
  pib: 1024 ** 5,
  eb: 1e18,
  e: 1024 ** 6,
  eib: 1024 ** 6,
};

/** A libvirt scaled integer (<memory unit='KiB'>...) in bytes; the unit defaults to KiB. */
function scaledBytes(value: string, unit: string | undefined, what: string): number {
  const scale = UNIT_BYTES[(unit ?? "KiB").toLowerCase()];
  if (scale === undefined) throw new Error(`unknown unit '${unit}' for ${what}`);
  if (!/^\d+$/.test(value)) throw new Error(`invalid ${what} value '${value}'`);
  return Number(value) * scale;
}

function hex(v: string | undefined, width: number): string {
  const n = v === undefined ? 0 : parseInt(v, v.startsWith("0x") || v.startsWith("0X") ? 16 : 10);
  return (Number.isNaN(n) ? 0 : n).toString(16).padStart(width, "0");
}

function pciAddress(address: XmlNode | undefined): string {
  return (
    `${hex(attr(address, "domain"), 4)}:${hex(attr(address, "bus"), 2)}:` +
    `${hex(attr(address, "slot"), 2)}.${hex(attr(address, "function"), 1)}`
  );
}

function describeHostdev(hostdev: XmlNode): string {
  const type = attr(hostdev, "type") ?? "unknown";
  const source = child(hostdev, "source");
  const address = child(source, "address");
  switch (type) {
    case "pci":
      return `pci ${pciAddress(address)}`;
    case "usb": {
      const vendor = attr(child(source, "vendor"), "id");
      const product = attr(child(source, "product"), "id");
      if (vendor !== undefined || product !== undefined) {
        return `usb ${hex(vendor, 4)}:${hex(product, 4)}`;
      }
      return `usb bus ${attr(address, "bus") ?? "?"} device ${attr(address, "device") ?? "?"}`;
    }
    case "scsi": {
      const adapter = attr(child(source, "adapter"), "name");
      if (adapter !== undefined) {
        return `scsi ${adapter}:${attr(address, "bus") ?? 0}:${attr(address, "target") ?? 0}:${attr(address, "unit") ?? 0}`;
      }
      return `scsi ${attr(source, "protocol") ?? ""} ${attr(source, "name") ?? ""}`.trim();
    }
    case "scsi_host":
      return `scsi_host ${attr(source, "wwpn") ?? ""}`.trim();
    case "mdev":
      return `mdev ${attr(address, "uuid") ?? ""}`.trim();
    case "storage":
      return `storage ${text(child(source, "block")) ?? ""}`.trim();
    case "misc":
      return `misc ${text(child(source, "char")) ?? ""}`.trim();
    case "net":
      return `net ${text(child(source, "interface")) ?? ""}`.trim();
    default:
      return type;
  }
}

function describeHostdevInterface(iface: XmlNode): string {
  const address = child(child(iface, "source"), "address");
  const kind = attr(address, "type") ?? "pci";
  const where = kind === "pci" ? pciAddress(address) : "";
  return `interface ${kind} ${where}`.trim();
}

function parseDisk(disk: XmlNode, index: number): ParsedDisk {
  const target = attr(child(disk, "target"), "dev");
  if (target === undefined) throw new Error(`disk #${index + 1} has no <target dev=...>`);
  const sourceType = attr(disk, "type") ?? "file";
  const source = child(disk, "source");
  const parsed: ParsedDisk = {
    target,
    device: (attr(disk, "device") ?? "disk") as ParsedDisk["device"],
    sourceType,
    format: attr(child(disk, "driver"), "type") ?? "raw",
    readOnly: has(disk, "readonly"),
    shareable: has(disk, "shareable"),
    backingChain: [],
    backingFormats: [],
  };
  const bus = attr(child(disk, "target"), "bus");
  if (bus !== undefined) parsed.bus = bus;
  const path = attr(source, "file") ?? attr(source, "dev");
  if (path !== undefined) parsed.path = path;
  if (sourceType === "volume") {
    const pool = attr(source, "pool");
    const volume = attr(source, "volume");
    if (pool !== undefined) parsed.pool = pool;
    if (volume !== undefined) parsed.volume = volume;
  }
  if (sourceType === "network" && source) {
    parsed.network = {
      protocol: attr(source, "protocol") ?? "",
      name: attr(source, "name") ?? "",
      hosts: asNodes(source.host).map((h) => {
        const host: { name: string; port?: number } = {
          name: attr(h, "name") ?? attr(h, "socket") ?? "",
        };
        const port = attr(h, "port");
        if (port !== undefined && /^\d+$/.test(port)) host.port = Number(port);
        return host;
      }),
    };
    // libvirt takes <auth> inside <disk> or inside <source>.
    const auth = authFromXml(child(disk, "auth") ?? child(source, "auth"));
    if (auth) parsed.network.auth = auth;
  }
  const mirror = child(disk, "mirror");
  const mirrorPath = attr(mirror, "file") ?? attr(child(mirror, "source"), "file");
  if (mirrorPath !== undefined) parsed.mirrorPath = mirrorPath;
  // Backing chain, nearest first; an empty <backingStore/> ends it.
  for (let bs = child(disk, "backingStore"); bs; bs = child(bs, "backingStore")) {
    const bsSource = child(bs, "source");
    const p = attr(bsSource, "file") ?? attr(bsSource, "dev");
    if (p !== undefined) {
      parsed.backingChain.push(p);
      parsed.backingFormats.push(attr(child(bs, "format"), "type") ?? "raw");
    }
  }
  return parsed;
}

/** The facts the planner needs from a domain's XML. */
export function parseDomainXml(xml: string): ParsedDomain {
  const domain = parseDocument(xml);
  const name = text(child(domain, "name"));
  if (!name) throw new Error("invalid domain XML: no <name>");
  const osType = child(child(domain, "os"), "type");
  const memory = child(domain, "memory");
  const memoryText = text(memory);
  const vcpuText = text(child(domain, "vcpu"));
  const devices = child(domain, "devices");

  const hostDevices = asNodes(devices?.hostdev).map(describeHostdev);
  for (const iface of asNodes(devices?.interface)) {
    if (attr(iface, "type") === "hostdev") hostDevices.push(describeHostdevInterface(iface));
  }

  const parsed: ParsedDomain = {
    name,
    uuid: text(child(domain, "uuid")) ?? "",
    virtType: attr(domain, "type") ?? "",
    arch: attr(osType, "arch") ?? "",
    memoryBytes: memoryText ? scaledBytes(memoryText, attr(memory, "unit"), "<memory>") : 0,
    vcpus: vcpuText && /^\d+$/.test(vcpuText) ? Number(vcpuText) : 1,
    disks: asNodes(devices?.disk).map(parseDisk),
    hostDevices,
    hasGraphics: asNodes(devices?.graphics).length > 0,
  };
  const machine = attr(osType, "machine");
  if (machine !== undefined) parsed.machine = machine;
  const nvram = text(child(child(domain, "os"), "nvram"));
  if (nvram) parsed.nvram = nvram;
  const moveMarker = moveMarkerOf(child(domain, "metadata"));
  if (moveMarker) parsed.moveMarker = moveMarker;
  const cpuMode = attr(child(domain, "cpu"), "mode");
  if (cpuMode) parsed.cpuMode = cpuMode;
  // A custom CPU definition as written, for the hypervisor's comparison: that needs the document
  // order, a second parse, so only for the one mode compared.
  if (cpuMode === "custom") {
    const cpu = elements(childrenOf(orderedDocument(xml).domain), "cpu")[0];
    parsed.cpuXml = buildXml([cpu]);
  }
  return parsed;
}

/** The document's nodes and its <domain> element, with everything in document order. */
function orderedDocument(xml: string): { doc: OrderedNode[]; domain: OrderedNode } {
  const doc = parseXml(xml, "domain XML");
  const domain = elements(doc, "domain")[0];
  if (!domain) throw new Error("invalid domain XML: no <domain> root element");
  return { doc, domain };
}

// ---------------------------------------------------------------------------------------------
// Rewriting

/** The layout before a disk's first child element: what new children are indented with. */
function childIndent(children: OrderedNode[]): string {
  return whitespaceOf(children[0]) ?? "";
}

function rewriteDisk(disk: OrderedNode, change: DiskSourceChange): void {
  const type = change.network ? "network" : "file";
  if (attrOf(disk, "type") !== type) setAttr(disk, "type", type);
  const children = childrenOf(disk);
  const indent = childIndent(children);
  // The old credentials go with the old source; a network source brings its own.
  removeChildren(children, "auth");
  const net = change.network && networkSourceNodes(change.network);
  const newSource = net ? net.source : element("source", { file: change.path });
  if (net?.auth) {
    const at = children.findIndex((n) => tagOf(n) === "source");
    children.splice(at >= 0 ? at : 0, 0, net.auth, textNode(indent));
  }
  const driver = children.find((n) => tagOf(n) === "driver");
  let newDriver: OrderedNode | undefined;
  if (change.format !== undefined) {
    if (driver) setAttr(driver, "type", change.format);
    else newDriver = element("driver", { name: "qemu", type: change.format });
  }
  const source = children.findIndex((n) => tagOf(n) === "source");
  if (source >= 0) {
    children.splice(
      source,
      1,
      ...(newDriver ? [newDriver, textNode(indent), newSource] : [newSource]),
    );
  } else {
    // A disk without a source (an empty cdrom): the source goes after the driver, or first.
    const at = driver ? children.indexOf(driver) + 1 : 0;
    const added = newDriver ? [newDriver, newSource] : [newSource];
    children.splice(at, 0, ...added.flatMap((n) => [textNode(indent), n]));
  }
  // The copy is standalone: drop the backing chain, with the layout before it.
  removeChildren(children, "backingStore");
}

/** Removes every child element `tag`, with the layout before each. */
function removeChildren(children: OrderedNode[], tag: string): void {
  for (let i = children.length - 1; i >= 0; i--) {
    if (tagOf(children[i]) !== tag) continue;
    const before = i > 0 && whitespaceOf(children[i - 1]) !== undefined ? 1 : 0;
    children.splice(i - before, 1 + before);
    i -= before;
  }
}

/**
 * Points the named disks (by target dev) at new local files: each gets `<source file='PATH'/>`
 * (its disk type becoming 'file'), the driver type `format` when given, and no backing chain.
 * Everything else in the document keeps its order, text and layout.
 */
export function rewriteDiskSources(xml: string, changes: Record<string, DiskSourceChange>): string {
  const { doc, domain } = orderedDocument(xml);
  const devices = elements(childrenOf(domain), "devices")[0];
  const disks = devices ? elements(childrenOf(devices), "disk") : [];
  const targets = disks.map((d) => {
    const target = elements(childrenOf(d), "target")[0];
    return target && attrOf(target, "dev");
  });
  for (const key of Object.keys(changes)) {
    if (!targets.includes(key)) throw new Error(`no disk with target '${key}' in domain XML`);
  }
  if (!Object.keys(changes).length) return xml;
  targets.forEach((target, i) => {
    if (target !== undefined && Object.prototype.hasOwnProperty.call(changes, target))
      rewriteDisk(disks[i], changes[target]);
  });
  return buildXml(doc);
}

/**
 * The domain XML as it is to be on the target: each copied disk whose path changes points at its
 * target path. Undefined when no disk's path changes.
 */
export function withTargetDiskPaths(xml: string, disks: DiskPlacement[]): string | undefined {
  const changes = targetSources(
    disks.filter((d) => d.copy && d.targetPath && d.targetPath !== d.sourcePath),
  );
  return Object.keys(changes).length ? rewriteDiskSources(xml, changes) : undefined;
}

/** Each disk's new source: its target path, or the RBD image it is copied into; its new format. */
export function targetSources(disks: DiskPlacement[]): Record<string, DiskSourceChange> {
  return Object.fromEntries(
    disks.map((d) => [
      d.target,
      {
        path: d.targetPath!,
        ...(d.targetNetwork ? { network: d.targetNetwork } : {}),
        ...(d.targetFormat ? { format: d.targetFormat } : {}),
      },
    ]),
  );
}

/**
 * The XML with the move marker in its <metadata> (replacing an older one): for the definitions a
 * live migration sends with it, which libvirt takes as given.
 */
export function withMoveMarker(xml: string, marker: MoveMarker): string {
  const { doc, domain } = orderedDocument(xml);
  const children = childrenOf(domain);
  let metadata = elements(children, "metadata")[0];
  if (!metadata) {
    metadata = element("metadata");
    children.push(metadata);
  }
  const entries = childrenOf(metadata);
  const tag = `${MOVE_MARKER_KEY}:move`;
  for (let i = entries.length - 1; i >= 0; i--) if (tagOf(entries[i]) === tag) entries.splice(i, 1);
  entries.push(
    element(tag, {
      [`xmlns:${MOVE_MARKER_KEY}`]: MOVE_MARKER_NS,
      ...moveMarkerAttributes(marker),
    }),
  );
  return buildXml(doc);
}

/** The XML without the move marker (a note about a move, not part of the VM's definition). */
export function withoutMoveMarker(xml: string): string {
  const { doc, domain } = orderedDocument(xml);
  const children = childrenOf(domain);
  const metadata = elements(children, "metadata")[0];
  if (!metadata) return xml;
  const entries = childrenOf(metadata);
  const before = entries.length;
  for (let i = entries.length - 1; i >= 0; i--) {
    const tag = tagOf(entries[i]);
    const prefix = tag?.endsWith(":move") ? tag.slice(0, -":move".length) : undefined;
    if (prefix && attrOf(entries[i], `xmlns:${prefix}`) === MOVE_MARKER_NS) entries.splice(i, 1);
  }
  if (entries.length === before) return xml;
  if (!entries.some((e) => tagOf(e) !== undefined)) children.splice(children.indexOf(metadata), 1);
  return buildXml(doc);
}
