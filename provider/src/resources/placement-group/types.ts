// PlacementGroup's inputs (placement rules for a set of VMs) and outputs (the solution).
import { z } from "zod";
import type { FieldGuide } from "../check-failures";

const vmRule = z.strictObject({
  domain: z.string().min(1),
  hosts: z.array(z.string().min(1)).min(1).optional(),
  hostSelector: z.record(z.string(), z.string()).optional(),
  antiAffinity: z.string().min(1).optional(),
  pinned: z.string().min(1).optional(),
});

export const groupInputs = z.strictObject({
  vms: z.array(vmRule).min(1),
  cordon: z.array(z.string().min(1)).default([]),
  strategy: z.enum(["spread", "pack"]).default("spread"),
  rebalance: z.boolean().default(false),
  maxMoves: z.number().int().min(0).default(10),
});

export type GroupInputs = z.infer<typeof groupInputs>;

/** Every group input: what it is and how to give it, for the messages of a bad value. */
export const GROUP_GUIDE: FieldGuide = {
  vms: {
    is: "the group's VMs, a non-empty list of objects with domain",
    example: `[{"domain":"web-1"}]`,
  },
  "vms[]": { is: "a VM's rules, an object with domain", example: `{"domain":"web-1"}` },
  "vms[].domain": { is: "the libvirt domain's name", example: "web-1" },
  "vms[].hosts": {
    is: "the hosts the VM may run on, a non-empty list",
    example: `["kvm1","kvm2"]`,
  },
  "vms[].hosts[]": { is: "the name of a host in the provider's hosts", example: "kvm1" },
  "vms[].hostSelector": {
    is: "labels a host must carry, names and string values",
    example: `{"rack":"r1"}`,
  },
  "vms[].hostSelector.*": { is: "a label's value, a string", example: `"r1"` },
  "vms[].antiAffinity": {
    is: "a name shared by VMs that must run on different hosts",
    example: "web",
  },
  "vms[].pinned": { is: "the one host the VM must run on", example: "kvm1" },
  cordon: { is: "hosts no VM of the group may run on, a list", example: `["kvm3"]` },
  "cordon[]": { is: "the name of a host in the provider's hosts", example: "kvm3" },
  strategy: { is: "how VMs are spread: spread or pack", example: "spread" },
  rebalance: { is: "true to move VMs to even the hosts out", example: "false" },
  maxMoves: {
    is: "the most moves one update may make, a whole number of 0 or more",
    example: "10",
  },
};

export interface GroupOutputs extends GroupInputs {
  assignments: Record<string, string>;
  reasons: Record<string, string>;
  unplaceable: Record<string, { code: string; reason: string }>;
  moves: Array<{ domain: string; from: string; to: string }>;
}
