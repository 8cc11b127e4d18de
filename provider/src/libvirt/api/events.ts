// Domain events: lifecycle changes, migration iterations and completed jobs, delivered by the
// daemon after registration and routed to the registering callback by its callback ID.
import type { RemoteProgram } from "../rpc/remote-program";
import type { Domain } from "./handles";
import { decodeTypedParams } from "./typed-params";
import { jobStatsFrom, type JobStats } from "./domains";
import * as C from "./constants.gen";

export interface LifecycleEvent {
  domain: Domain;
  /** virDomainEventType, e.g. VIR_DOMAIN_EVENT_STARTED. */
  event: number;
  detail: number;
}

export interface MigrationIterationEvent {
  domain: Domain;
  iteration: number;
}

export interface JobCompletedEvent {
  domain: Domain;
  stats: JobStats;
}

type Handler = (payload: unknown) => void;

export class EventApi {
  private readonly handlers = new Map<number, Handler>();
  private routed = false;

  constructor(private readonly remote: RemoteProgram) {}

  private route(): void {
    if (this.routed) return;
    this.routed = true;
    this.remote.onEvent("DOMAIN_EVENT_CALLBACK_LIFECYCLE", (m) =>
      this.handlers.get(m.callbackID)?.({
        domain: m.msg.dom,
        event: m.msg.event,
        detail: m.msg.detail,
      } satisfies LifecycleEvent),
    );
    this.remote.onEvent("DOMAIN_EVENT_CALLBACK_MIGRATION_ITERATION", (m) =>
      this.handlers.get(m.callbackID)?.({
        domain: m.dom,
        iteration: m.iteration,
      } satisfies MigrationIterationEvent),
    );
    this.remote.onEvent("DOMAIN_EVENT_CALLBACK_JOB_COMPLETED", (m) =>
      this.handlers.get(m.callbackID)?.({
        domain: m.dom,
        stats: jobStatsFrom(
          C.virDomainJobType.VIR_DOMAIN_JOB_COMPLETED,
          decodeTypedParams(m.params),
        ),
      } satisfies JobCompletedEvent),
    );
  }

  private async register(
    eventId: number,
    domain: Domain | null,
    handler: Handler,
  ): Promise<() => Promise<void>> {
    this.route();
    const { callbackID } = await this.remote.call("CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY", {
      eventID: eventId,
      dom: domain,
    });
    this.handlers.set(callbackID, handler);
    return async () => {
      if (!this.handlers.delete(callbackID)) return;
      await this.remote.call("CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY", { callbackID });
    };
  }

  /** Calls `handler` on lifecycle events of `domain` (or of every domain); resolves to an unsubscribe. */
  onLifecycle(domain: Domain | null, handler: (e: LifecycleEvent) => void) {
    return this.register(
      C.virDomainEventID.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
      domain,
      handler as Handler,
    );
  }

  onMigrationIteration(domain: Domain | null, handler: (e: MigrationIterationEvent) => void) {
    return this.register(
      C.virDomainEventID.VIR_DOMAIN_EVENT_ID_MIGRATION_ITERATION,
      domain,
      handler as Handler,
    );
  }

  onJobCompleted(domain: Domain | null, handler: (e: JobCompletedEvent) => void) {
    return this.register(
      C.virDomainEventID.VIR_DOMAIN_EVENT_ID_JOB_COMPLETED,
      domain,
      handler as Handler,
    );
  }
}
