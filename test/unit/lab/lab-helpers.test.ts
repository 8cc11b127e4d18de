import assert from "node:assert/strict";
import { hostPathFromRoot, type LabHost } from "../../lab/lab";
import { parseJobInfo } from "../../lab/virsh";

describe("lab helpers", () => {
  const host = { name: "h1", dir: "/lab/hosts/h1" } as LabHost;

  it("maps a host's private paths to the root namespace", () => {
    assert.equal(
      hostPathFromRoot(host, "/var/lib/libvirt/pools/local/a.qcow2"),
      "/lab/hosts/h1/lib/pools/local/a.qcow2",
    );
    assert.equal(
      hostPathFromRoot(host, "/var/log/libvirt/qemu/a-serial.log"),
      "/lab/hosts/h1/log/qemu/a-serial.log",
    );
    assert.throws(() => hostPathFromRoot(host, "/var/lib/libvirtx/a"), /not inside/);
  });

  it("parses virsh domjobinfo output", () => {
    const info = parseJobInfo(
      "Job type:         Completed\nTime elapsed:     995          ms\nTotal downtime:   96           ms\n",
    );
    assert.equal(info["Job type"], "Completed");
    assert.equal(parseInt(info["Total downtime"], 10), 96);
  });
});
