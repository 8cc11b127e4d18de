// The one place the engine edits and writes XML: documents are parsed by fast-xml-parser into
// an ordered tree (elements, text with its whitespace, comments, CDATA, in document order),
// edited as data, and serialized by its builder, which escapes every value.
import { XMLBuilder, XMLParser } from "fast-xml-parser";

/** An element (`{ [tag]: children, ":@": attributes }`), a text node, a comment or CDATA. */
export type XmlNode = Record<string, unknown>;

const ATTRS = ":@";
const TEXT = "#text";
const OPTIONS = {
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: "@_",
  trimValues: false,
  parseTagValue: false,
  parseAttributeValue: false,
  commentPropName: "#comment",
  cdataPropName: "#cdata",
  processEntities: true,
  htmlEntities: false,
  suppressEmptyNode: true,
} as const;

const parser = new XMLParser(OPTIONS);
const compact = new XMLBuilder({ ...OPTIONS, format: false });
const pretty = new XMLBuilder({ ...OPTIONS, format: true, indentBy: "  " });

/** Parses a document into its ordered nodes; throws on XML that is not well-formed. */
export function parseXml(xml: string, what = "XML"): XmlNode[] {
  try {
    return parser.parse(xml, true) as XmlNode[];
  } catch (e) {
    throw new Error(`invalid ${what}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Serializes nodes; `indented` lays elements out one per line (for documents made from scratch). */
export function buildXml(nodes: XmlNode[], indented = false): string {
  if (!indented) return compact.build(nodes) as string;
  // The builder starts an indented document with a line break.
  return `${(pretty.build(nodes) as string).trim()}\n`;
}

/** The element's tag, or undefined for text, comments and CDATA. */
export function tagOf(node: XmlNode): string | undefined {
  return Object.keys(node).find((k) => k !== ATTRS && !k.startsWith("#"));
}

export function childrenOf(node: XmlNode): XmlNode[] {
  const tag = tagOf(node);
  return tag ? (node[tag] as XmlNode[]) : [];
}

/** Child elements named `tag`, in document order. */
export function elements(nodes: XmlNode[], tag: string): XmlNode[] {
  return nodes.filter((n) => tagOf(n) === tag);
}

export function attrOf(node: XmlNode, name: string): string | undefined {
  const v = (node[ATTRS] as Record<string, unknown> | undefined)?.[`@_${name}`];
  return v === undefined ? undefined : String(v);
}

export function setAttr(node: XmlNode, name: string, value: string): void {
  node[ATTRS] = { ...((node[ATTRS] as Record<string, unknown>) ?? {}), [`@_${name}`]: value };
}

/** A new element with attributes (in the given order) and children. */
export function element(
  tag: string,
  attrs: Record<string, string | number> = {},
  children: XmlNode[] = [],
): XmlNode {
  const node: XmlNode = { [tag]: children };
  if (Object.keys(attrs).length)
    node[ATTRS] = Object.fromEntries(Object.entries(attrs).map(([k, v]) => [`@_${k}`, String(v)]));
  return node;
}

/** An element holding only text. */
export function textElement(tag: string, value: string | number): XmlNode {
  return element(tag, {}, [textNode(String(value))]);
}

export function textNode(value: string): XmlNode {
  return { [TEXT]: value };
}

/** The whitespace-only text of a node, when it is one (the layout between elements). */
export function whitespaceOf(node: XmlNode | undefined): string | undefined {
  const t = node?.[TEXT];
  return typeof t === "string" && /^\s*$/.test(t) ? t : undefined;
}
