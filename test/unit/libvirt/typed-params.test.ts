import assert from "node:assert/strict";
import {
  decodeTypedParams,
  encodeTypedParams,
  toNumber,
  type TypedParamSpec,
} from "../../../provider/src/libvirt/api/typed-params";
import { migrateFlags, migrationTypedParams } from "../../../provider/src/libvirt/api/migration";
import { decode, encode } from "../../../provider/src/libvirt/protocol/xdr-types";
import {
  TYPES,
  type remote_typed_param,
} from "../../../provider/src/libvirt/protocol/remote-protocol.gen";

/** Sends params through the wire format the way a migration call carries them. */
function overTheWire(params: remote_typed_param[]): remote_typed_param[] {
  const bytes = encode(TYPES, "remote_domain_get_guest_vcpus_ret", { params });
  return decode<{ params: remote_typed_param[] }>(TYPES, "remote_domain_get_guest_vcpus_ret", bytes)
    .params;
}

describe("libvirt typed parameters", () => {
  it("maps migration parameters to libvirt names and types", () => {
    const specs = migrationTypedParams({
      uri: "tcp://10.0.0.6",
      bandwidthMibps: 100,
      parallelConnections: 4,
      migrateDisks: ["vda", "vdb"],
      compression: ["xbzrle", "zstd"],
    });
    assert.deepEqual(specs, [
      { name: "migrate_uri", type: "string", value: "tcp://10.0.0.6" },
      { name: "migrate_disks", type: "string", value: "vda" },
      { name: "migrate_disks", type: "string", value: "vdb" },
      { name: "bandwidth", type: "ullong", value: 100 },
      { name: "compression", type: "string", value: "xbzrle" },
      { name: "compression", type: "string", value: "zstd" },
      { name: "parallel.connections", type: "int", value: 4 },
    ]);
  });

  it("maps every migration parameter, and none when nothing is set", () => {
    assert.deepEqual(migrationTypedParams({}), []);
    const specs = migrationTypedParams({
      uri: "tcp://t",
      disksUri: "tcp://t:10809",
      disksPort: 10809,
      listenAddress: "0.0.0.0",
      destinationName: "vm-new",
      destinationXml: "<domain/>",
      persistentXml: "<domain persistent='yes'/>",
      migrateDisks: [],
      bandwidthMibps: 0,
      postcopyBandwidthMibps: 50,
      compression: [],
      parallelConnections: 2,
      tlsDestination: "t.example",
      autoConvergeInitial: 20,
      autoConvergeIncrement: 10,
    });
    assert.deepEqual(
      specs.map((s) => [s.name, s.type, s.value]),
      [
        ["migrate_uri", "string", "tcp://t"],
        ["disks_uri", "string", "tcp://t:10809"],
        ["disks_port", "int", 10809],
        ["listen_address", "string", "0.0.0.0"],
        ["destination_name", "string", "vm-new"],
        ["destination_xml", "string", "<domain/>"],
        ["persistent_xml", "string", "<domain persistent='yes'/>"],
        ["bandwidth", "ullong", 0],
        ["bandwidth.postcopy", "ullong", 50],
        ["parallel.connections", "int", 2],
        ["tls.destination", "string", "t.example"],
        ["auto_converge.initial", "int", 20],
        ["auto_converge.increment", "int", 10],
      ],
    );
  });

  it("encodes migration parameters with the union arm of their type", () => {
    const params = encodeTypedParams(
      migrationTypedParams({
        uri: "tcp://10.0.0.6",
        bandwidthMibps: 100,
        parallelConnections: 4,
        migrateDisks: ["vda", "vdb"],
      }),
    );
    assert.deepEqual(params, [
      { field: "migrate_uri", value: { type: 7, s: "tcp://10.0.0.6" } },
      { field: "migrate_disks", value: { type: 7, s: "vda" } },
      { field: "migrate_disks", value: { type: 7, s: "vdb" } },
      { field: "bandwidth", value: { type: 4, ul: 100n } },
      { field: "parallel.connections", value: { type: 1, i: 4 } },
    ]);
    assert.deepEqual(overTheWire(params), params);
    // The full migration call's arguments encode too.
    encode(TYPES, "remote_domain_migrate_perform3_params_args", {
      dom: { name: "vm", uuid: Buffer.alloc(16), id: 1 },
      dconnuri: "qemu+tcp://t/system",
      params,
      cookie_in: Buffer.alloc(0),
      flags: migrateFlags(["VIR_MIGRATE_LIVE", "VIR_MIGRATE_PEER2PEER"]),
    });
  });

  it("round-trips every type through encode, the wire, and decode", () => {
    const specs: TypedParamSpec[] = [
      { name: "i", type: "int", value: -5 },
      { name: "ui", type: "uint", value: 0xffffffff },
      { name: "d", type: "double", value: 0.5 },
      { name: "l", type: "llong", value: -(2n ** 40n) },
      { name: "ul", type: "ullong", value: 2n ** 64n - 1n },
      { name: "ulnum", type: "ullong", value: 7 },
      { name: "yes", type: "boolean", value: true },
      { name: "no", type: "boolean", value: false },
      { name: "s", type: "string", value: "zstd" },
    ];
    const params = encodeTypedParams(specs);
    assert.deepEqual(
      params.map((p) => p.value.type),
      [1, 2, 5, 3, 4, 4, 6, 6, 7],
    );
    assert.deepEqual(decodeTypedParams(overTheWire(params)), {
      i: -5,
      ui: 0xffffffff,
      d: 0.5,
      l: -(2n ** 40n),
      ul: 2n ** 64n - 1n,
      ulnum: 7n,
      yes: true,
      no: false,
      s: "zstd",
    });
  });

  it("keeps the last value of a repeated name when decoding", () => {
    const params = encodeTypedParams(migrationTypedParams({ migrateDisks: ["vda", "vdb"] }));
    assert.deepEqual(decodeTypedParams(params), { migrate_disks: "vdb" });
  });

  it("converts values to numbers", () => {
    assert.equal(toNumber(5n), 5);
    assert.equal(toNumber(3), 3);
    assert.equal(toNumber(true), 1);
    assert.equal(toNumber(false), 0);
    assert.equal(toNumber("x"), undefined);
    assert.equal(toNumber(undefined), undefined);
  });

  it("combines migration flags", () => {
    assert.equal(migrateFlags(["VIR_MIGRATE_LIVE", "VIR_MIGRATE_POSTCOPY"]), 1 | 32768);
    assert.equal(migrateFlags([]), 0);
    assert.equal(migrateFlags(["VIR_MIGRATE_LIVE", "VIR_MIGRATE_LIVE"]), 1);
  });
});
