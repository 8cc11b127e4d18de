// What the provider asks the engine for: the declared placement, and the hosts where an earlier
// run may have left something (where the state last saw the VM, and the last move's source).
import assert from "node:assert/strict";
import type { MigrationRecord } from "../../../provider/src/engine";
import { placementRequest } from "../../../provider/src/resources/vm-placement/types";

describe("placement request", () => {
  it("asks for the declared host and pools", () => {
    const req = placementRequest({ domain: "web", host: "h2", storagePool: "fast" });
    assert.deepEqual(req, {
      domain: "web",
      host: "h2",
      storagePool: "fast",
      diskPools: undefined,
      alsoLookOn: [],
    });
  });

  it("also looks where the state last saw the VM and where its last move came from", () => {
    const lastMigration = { from: "h1", to: "h2", result: "succeeded" } as MigrationRecord;
    const req = placementRequest(
      { domain: "web", host: "h3" },
      { currentHost: "h2", host: "h2", lastMigration },
    );
    assert.deepEqual(req.alsoLookOn, ["h2", "h2", "h1"]);
  });
});
