// The files the plugin serves from (schema.json, and package.json for its version): assets of
// the single executable when it runs as one (scripts/dist.sh embeds them), otherwise read from
// the checkout or the plugin directory the compiled provider sits in.
import { readFileSync } from "node:fs";
import path from "node:path";

type PluginFile = "schema.json" | "package.json";

interface SeaModule {
  isSea(): boolean;
  getAsset(key: string, encoding: string): string;
}

function seaModule(): SeaModule | undefined {
  try {
    // node:sea exists from Node 20.12; older Nodes can only run the plugin from a checkout.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require("node:sea") as SeaModule;
  } catch {
    return undefined;
  }
}

// build/provider/src/server/ -> the root holding schema.json and package.json.
const ROOT = path.resolve(__dirname, "..", "..", "..", "..");

export function pluginFile(name: PluginFile): string {
  const sea = seaModule();
  if (sea?.isSea()) return sea.getAsset(name, "utf8");
  return readFileSync(path.join(ROOT, name), "utf8");
}
