// Reading and editing libvirt domain XML: the facts the planner needs from a domain definition,
// and the targeted rewrite of disk sources that a storage move makes to the destination XML.
// Parsing goes through fast-xml-parser; rewriting splices text so that everything the rewrite
// does not touch stays byte-for-byte as libvirt wrote it.

import { XMLParser } from "fast-xml-parser";
import type { DiskFacts, DomainFacts } from "./types";

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
  "name" | "uuid" | "virtType" | "arch" | "machine" | "memoryBytes" | "vcpus" | "cpuXml" | "nvram"
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
}

/** Escapes the five XML special characters, for text and attribute values alike. */
export function escapeXml(s: string): string {
  return s
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

/** The destination of a block copy into a file (virDomainBlockCopy's destxml). */
export function blockCopyDestinationXml(filePath: string, format: string): string {
  return `<disk type='file'><driver type='${escapeXml(format)}'/><source file='${escapeXml(filePath)}'/></disk>`;
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
  return [
    "<volume>",
    `  <name>${escapeXml(name)}</name>`,
    `  <capacity unit='bytes'>${capacityBytes}</capacity>`,
    "  <allocation unit='bytes'>0</allocation>",
    "  <target>",
    `    <format type='${escapeXml(format)}'/>`,
    "  </target>",
    ...(backing
      ? [
          "  <backingStore>",
          `    <path>${escapeXml(backing.path)}</path>`,
          `    <format type='${escapeXml(backing.format)}'/>`,
          "  </backingStore>",
        ]
      : []),
    "</volume>",
    "",
  ].join("\n");
}

// ---------------------------------------------------------------------------------------------
// Parsing

// fast-xml-parser's output: attributes under "@_name", text under "#text" when there are
// attributes, a plain string for a text-only element, "" for an empty element.
type XmlNode = Record<string, unknown>;

const ARRAY_PATHS = new Set([
  "domain.devices.disk",
  "domain.devices.disk.source.host",
  "domain.devices.hostdev",
  "domain.devices.interface",
  "domain.devices.graphics",
]);

function xmlParser(): XMLParser {
  return new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: "@_",
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: true,
    isArray: (_tag, jpath) => ARRAY_PATHS.has(String(jpath)),
  });
}

function parseDocument(xml: string): XmlNode {
  let doc: unknown;
  try {
    doc = xmlParser().parse(xml, true);
  } catch (e) {
    throw new Error(`invalid domain XML: ${e instanceof Error ? e.message : String(e)}`);
  }
  const domain = asNode((doc as XmlNode | undefined)?.domain);
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
  const cpu = findElements(locateElements(xml), ["domain", "cpu"])[0];
  if (cpu) parsed.cpuXml = xml.slice(cpu.start, cpu.end);
  return parsed;
}

// ---------------------------------------------------------------------------------------------
// Locating elements in the text

/** An element's extent in the source text. */
interface Span {
  name: string;
  /** Offset of "<". */
  start: number;
  /** Offset just past the start tag's ">" (equal to `end` for an empty-element tag). */
  openEnd: number;
  /** Offset just past the element's last ">". */
  end: number;
  children: Span[];
}

/**
 * Finds every element's extent, skipping comments, CDATA, processing instructions and the
 * DOCTYPE. Expects well-formed XML (callers validate with fast-xml-parser first).
 */
function locateElements(xml: string): Span {
  const root: Span = { name: "", start: 0, openEnd: 0, end: xml.length, children: [] };
  const stack: Span[] = [root];
  const skipTo = (from: number, terminator: string): number => {
    const j = xml.indexOf(terminator, from);
    if (j < 0) throw new Error(`invalid XML: unterminated markup at offset ${from}`);
    return j + terminator.length;
  };
  let i = 0;
  for (;;) {
    const lt = xml.indexOf("<", i);
    if (lt < 0) break;
    if (xml.startsWith("<!--", lt)) {
      i = skipTo(lt + 4, "-->");
    } else if (xml.startsWith("<![CDATA[", lt)) {
      i = skipTo(lt + 9, "]]>");
    } else if (xml.startsWith("<?", lt)) {
      i = skipTo(lt + 2, "?>");
    } else if (xml.startsWith("<!", lt)) {
      // DOCTYPE, possibly with an internal subset in brackets.
      let depth = 0;
      let j = lt + 2;
      for (; j < xml.length; j++) {
        const c = xml[j];
        if (c === "[") depth++;
        else if (c === "]") depth--;
        else if (c === ">" && depth <= 0) break;
      }
      i = j + 1;
    } else if (xml[lt + 1] === "/") {
      const gt = skipTo(lt + 2, ">");
      const name = xml.slice(lt + 2, gt - 1).trim();
      const open = stack.pop();
      if (!open || open === root || open.name !== name) {
        throw new Error(`invalid XML: unexpected </${name}> at offset ${lt}`);
      }
      open.end = gt;
      i = gt;
    } else {
      let j = lt + 1;
      let quote = "";
      for (; j < xml.length; j++) {
        const c = xml[j];
        if (quote) {
          if (c === quote) quote = "";
        } else if (c === '"' || c === "'") {
          quote = c;
        } else if (c === ">") {
          break;
        }
      }
      if (j >= xml.length) throw new Error(`invalid XML: unterminated tag at offset ${lt}`);
      const name = /^[^\s/>]+/.exec(xml.slice(lt + 1, j))?.[0] ?? "";
      const empty = xml[j - 1] === "/";
      const span: Span = { name, start: lt, openEnd: j + 1, end: j + 1, children: [] };
      stack[stack.length - 1].children.push(span);
      if (!empty) stack.push(span);
      i = j + 1;
    }
  }
  if (stack.length > 1)
    throw new Error(`invalid XML: <${stack[stack.length - 1].name}> not closed`);
  return root;
}

/** Elements at a path of element names below `from`, in document order. */
function findElements(from: Span, path: string[]): Span[] {
  let level = [from];
  for (const name of path) level = level.flatMap((s) => s.children.filter((c) => c.name === name));
  return level;
}

// ---------------------------------------------------------------------------------------------
// Rewriting

interface Edit {
  start: number;
  end: number;
  text: string;
}

function applyEdits(s: string, edits: Edit[]): string {
  // Last first, so earlier offsets stay valid; at one offset, a replacement before an insertion.
  const sorted = [...edits].sort((a, b) => b.start - a.start || b.end - a.end);
  let out = s;
  let limit = Infinity;
  for (const e of sorted) {
    if (e.end > limit) throw new Error("internal error: overlapping XML edits");
    out = out.slice(0, e.start) + e.text + out.slice(e.end);
    limit = e.start;
  }
  return out;
}

/** A start tag with one attribute set (added before the tag's end when absent). */
function setAttribute(tag: string, name: string, value: string): string {
  const re = /\s([^\s=/>]+)\s*=\s*("[^"]*"|'[^']*')/g;
  for (let m = re.exec(tag); m; m = re.exec(tag)) {
    if (m[1] === name) {
      const q = m[2][0];
      const valueStart = m.index + m[0].length - m[2].length;
      return tag.slice(0, valueStart) + q + escapeXml(value) + q + tag.slice(m.index + m[0].length);
    }
  }
  const close = /\s*\/?>$/.exec(tag);
  const at = close ? close.index : tag.length;
  return `${tag.slice(0, at)} ${name}='${escapeXml(value)}'${tag.slice(at)}`;
}

/** The whitespace that starts the line `offset` is on, when only whitespace precedes it there. */
function lineIndent(xml: string, offset: number): string | undefined {
  const nl = xml.lastIndexOf("\n", offset - 1);
  const indent = xml.slice(nl + 1, offset);
  return /^[ \t]*$/.test(indent) ? indent : undefined;
}

/** Start of the whitespace (and one line break) leading up to `offset`. */
function leadingWhitespaceStart(xml: string, offset: number): number {
  let i = offset;
  while (i > 0 && (xml[i - 1] === " " || xml[i - 1] === "\t")) i--;
  if (i > 0 && xml[i - 1] === "\n") i--;
  if (i > 0 && xml[i - 1] === "\r") i--;
  return i;
}

function diskEdits(xml: string, disk: Span, change: DiskSourceChange): Edit[] {
  const edits: Edit[] = [];
  const openTag = xml.slice(disk.start, disk.openEnd);
  const type = /\stype\s*=\s*(["'])(.*?)\1/.exec(openTag)?.[2];
  if (type !== "file") {
    edits.push({
      start: disk.start,
      end: disk.openEnd,
      text: setAttribute(openTag, "type", "file"),
    });
  }

  const first = disk.children[0];
  const indent =
    (first && lineIndent(xml, first.start)) ?? `${lineIndent(xml, disk.start) ?? ""}  `;
  const newline = xml.includes("\r\n") ? "\r\n" : "\n";
  const newSource = `<source file='${escapeXml(change.path)}'/>`;

  const driver = disk.children.find((c) => c.name === "driver");
  const source = disk.children.find((c) => c.name === "source");
  let newDriver = "";
  if (change.format !== undefined) {
    if (driver) {
      const tag = xml.slice(driver.start, driver.openEnd);
      edits.push({
        start: driver.start,
        end: driver.openEnd,
        text: setAttribute(tag, "type", change.format),
      });
    } else {
      newDriver = `<driver name='qemu' type='${escapeXml(change.format)}'/>`;
    }
  }

  if (source) {
    const text = newDriver ? `${newDriver}${newline}${indent}${newSource}` : newSource;
    edits.push({ start: source.start, end: source.end, text });
  } else {
    // A disk without a source (an empty cdrom): the source goes after the driver, or first.
    const at = driver ? driver.end : disk.openEnd;
    const lines = newDriver ? [newDriver, newSource] : [newSource];
    const text = lines.map((l) => `${newline}${indent}${l}`).join("");
    edits.push({ start: at, end: at, text });
  }

  // The copy is standalone: drop the backing chain.
  for (const bs of disk.children.filter((c) => c.name === "backingStore")) {
    edits.push({ start: leadingWhitespaceStart(xml, bs.start), end: bs.end, text: "" });
  }
  return edits;
}

/**
 * Points the named disks (by target dev) at new local files: each gets `<source file='PATH'/>`
 * (its disk type becoming 'file'), the driver type `format` when given, and no backing chain.
 * Everything else in the document is left exactly as it was.
 */
export function rewriteDiskSources(xml: string, changes: Record<string, DiskSourceChange>): string {
  const parsed = asNodes(child(parseDocument(xml), "devices")?.disk);
  const spans = findElements(locateElements(xml), ["domain", "devices", "disk"]);
  if (spans.length !== parsed.length) {
    throw new Error(
      `internal error: found ${spans.length} <disk> elements in the text, ${parsed.length} parsed`,
    );
  }
  const targets = parsed.map((d) => attr(child(d, "target"), "dev"));
  for (const key of Object.keys(changes)) {
    if (!targets.includes(key)) throw new Error(`no disk with target '${key}' in domain XML`);
  }
  const edits: Edit[] = [];
  targets.forEach((target, i) => {
    if (target !== undefined && Object.prototype.hasOwnProperty.call(changes, target)) {
      edits.push(...diskEdits(xml, spans[i], changes[target]));
    }
  });
  return applyEdits(xml, edits);
}
