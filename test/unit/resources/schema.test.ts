// The schema as users read it in every SDK and the Registry: every resource, function, type and
// property says what it is, and closed sets of strings are enums.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";

interface Property {
  description?: string;
  type?: string;
  $ref?: string;
  items?: Property;
  enum?: Array<{ value: string; description?: string }>;
}
interface Described {
  description?: string;
  properties?: Record<string, Property>;
  inputProperties?: Record<string, Property>;
  enum?: Property["enum"];
}

const schema = JSON.parse(
  readFileSync(path.resolve(__dirname, "..", "..", "..", "..", "schema.json"), "utf8"),
) as {
  config: { variables: Record<string, Property> };
  provider: Described;
  resources: Record<string, Described>;
  types: Record<string, Described>;
  functions: Record<string, Described & { inputs: Described; outputs: Described }>;
};

/** Paths of everything the schema leaves undescribed. */
function undescribed(): string[] {
  const missing: string[] = [];
  const props = (where: string, p?: Record<string, Property>) => {
    for (const [k, v] of Object.entries(p ?? {})) if (!v.description) missing.push(`${where}.${k}`);
  };
  props("config", schema.config.variables);
  props("provider", schema.provider.inputProperties);
  for (const [t, r] of Object.entries(schema.resources)) {
    if (!r.description) missing.push(t);
    props(`${t} inputs`, r.inputProperties);
    props(`${t} outputs`, r.properties);
  }
  for (const [t, f] of Object.entries(schema.functions)) {
    if (!f.description) missing.push(t);
    props(`${t} inputs`, f.inputs.properties);
    props(`${t} outputs`, f.outputs.properties);
  }
  for (const [t, ty] of Object.entries(schema.types)) {
    if (!ty.description) missing.push(t);
    props(t, ty.properties);
    for (const e of ty.enum ?? []) if (!e.description) missing.push(`${t}=${e.value}`);
  }
  return missing;
}

describe("schema", () => {
  it("describes every resource, function, type, property and enum value", () => {
    assert.deepEqual(undescribed(), []);
  });

  it("has the three functions", () => {
    assert.deepEqual(Object.keys(schema.functions).sort(), [
      "vmplacement:index:getHosts",
      "vmplacement:index:getPlacement",
      "vmplacement:index:planPlacement",
    ]);
  });

  it("makes closed sets of strings enums", () => {
    const enumRef = (p: Property) => (p.$ref ?? p.items?.$ref ?? "").split("/").pop();
    const policy = schema.resources["vmplacement:index:MigrationPolicy"].inputProperties!;
    assert.equal(enumRef(policy.compression), "vmplacement:index:Compression");
    assert.equal(enumRef(policy.storageCopy), "vmplacement:index:StorageCopy");
    const record = schema.types["vmplacement:index:MigrationRecord"].properties!;
    assert.equal(enumRef(record.mode), "vmplacement:index:MigrationMode");
    assert.equal(enumRef(record.result), "vmplacement:index:MigrationResult");
    assert.equal(enumRef(record.errorCategory), "vmplacement:index:ErrorCategory");
    const webhook = schema.types["vmplacement:index:Webhook"].properties!;
    assert.equal(enumRef(webhook.events), "vmplacement:index:WebhookEvent");
  });
});
