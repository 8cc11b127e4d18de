// PlacementGroup's inputs (placement rules for a set of VMs) and outputs (the solution).
import { z } from "zod";

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

export interface GroupOutputs extends GroupInputs {
  assignments: Record<string, string>;
  reasons: Record<string, string>;
  unplaceable: Record<string, { code: string; reason: string }>;
  moves: Array<{ domain: string; from: string; to: string }>;
}
