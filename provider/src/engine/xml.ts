// The one place that configures fast-xml-parser. Documents the engine edits and writes are parsed
// into an ordered tree (elements, text with its whitespace, comments, CDATA, in document order),
// edited as data, and serialized by its builder, which escapes every value. Documents only read
// for facts are parsed into plain objects (objectReader).
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
  return validated(() => parser.parse(xml, true) as XmlNode[], what);
}

function validated<T>(parse: () => T, what: string): T {
  try {
    return parse();
  } catch (e) {
    throw new Error(`invalid ${what}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * A parser of documents into plain objects, for reading facts: attributes under "@_name", text
 * under "#text" when there are attributes, a plain string for a text-only element, "" for an
 * empty one; values stay the text as written. `arrays` names the element paths
 * ("domain.devices.disk") that are lists even when there is one. Throws on XML that is not
 * well-formed.
 */
export function objectReader(
  arrays: ReadonlySet<string> = new Set(),
): (xml: string, what?: string) => Record<string, unknown> {
  const reader = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: "@_",
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: true,
    isArray: (_tag, jpath) => arrays.has(String(jpath)),
  });
  return (xml, what = "XML") =>
    validated(() => reader.parse(xml, true) as Record<string, unknown>, what);
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
