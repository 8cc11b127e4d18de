// The README's main command: the TypeScript example places three lab VMs through the generated
// SDK (ssh transport, explicit provider, a MigrationPolicy), then moves one live.
import assert from "node:assert/strict";
import path from "node:path";
import { run } from "../lab/run";

const REPO_ROOT = path.resolve(__dirname, "..", "..", "..");

describe("demo: the TypeScript example on the lab", function () {
  it("places three VMs, previews a move, moves one live and prints its record", async () => {
    const out = await run(path.join(REPO_ROOT, "scripts", "demo.sh"), [], {
      timeoutMs: 600_000,
      withStderr: true,
    });
    assert.match(
      out,
      /demo-1: h\d -> h\d, live-copy-all, converges, memory \d+ MiB, disks \d+ MiB, ~[\d.]+ s, downtime ~\d+ ms \(link \d+ MiB\/s: /,
      "the preview shows the plan and its forecast",
    );
    // The record is the JSON object printed after the marker (diagnostics may follow it).
    const tail = out.slice(out.lastIndexOf("== the migration record"));
    const record = JSON.parse(tail.slice(tail.indexOf("{"), tail.indexOf("\n}") + 2));
    assert.equal(record.result, "succeeded");
    assert.equal(record.domain, "demo-1");
    assert.notEqual(record.finalHost, record.from, "it moved");
    assert.equal(record.mode, "live-copy-all");
    assert.equal(record.forecast?.verdict, "converges", "the record keeps what was forecast");
    // A live move pauses the guest briefly: measured, and within the policy's highest downtime.
    assert.ok(
      record.downtimeMs > 0 && record.downtimeMs <= 1000,
      `downtime ${record.downtimeMs} ms`,
    );
  });
});
