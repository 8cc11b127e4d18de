// Every resource the provider has, registered once: the server dispatches on these tokens.
import type { ResourceController } from "./controller";
import { migrationPolicyController } from "./migration-policy/controller";
import { placementGroupController } from "./placement-group/controller";
import { vmPlacementController } from "./vm-placement/controller";

const CONTROLLERS: ResourceController[] = [
  vmPlacementController,
  migrationPolicyController,
  placementGroupController,
];

const BY_TOKEN = new Map(CONTROLLERS.map((c) => [c.token, c]));

/** The controller of a type token, or undefined for a type this provider does not have. */
export function controllerFor(token: string): ResourceController | undefined {
  return BY_TOKEN.get(token);
}

/** The type tokens, for an error that lists them. */
export const RESOURCE_TOKENS = CONTROLLERS.map((c) => c.token);
