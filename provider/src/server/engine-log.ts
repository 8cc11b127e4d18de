// Logging to the Pulumi engine: ephemeral status lines on a resource while it migrates, and
// one info line with the result. Falls back to stderr when there is no engine to talk to.
import * as grpc from "@grpc/grpc-js";
import * as engineRpc from "@pulumi/pulumi/proto/engine_grpc_pb";
import * as enginePb from "@pulumi/pulumi/proto/engine_pb";

export type Severity = "debug" | "info" | "warning" | "error";

const SEVERITY: Record<Severity, number> = {
  debug: enginePb.LogSeverity.DEBUG,
  info: enginePb.LogSeverity.INFO,
  warning: enginePb.LogSeverity.WARNING,
  error: enginePb.LogSeverity.ERROR,
};

export class EngineLog {
  private client: engineRpc.EngineClient | undefined;

  connect(address: string): void {
    this.client?.close();
    this.client = new engineRpc.EngineClient(address, grpc.credentials.createInsecure());
  }

  log(severity: Severity, message: string, urn = "", ephemeral = false): Promise<void> {
    if (!this.client) {
      process.stderr.write(`${severity}: ${message}\n`);
      return Promise.resolve();
    }
    const req = new enginePb.LogRequest();
    req.setSeverity(SEVERITY[severity] as enginePb.LogSeverity);
    req.setMessage(message);
    req.setUrn(urn);
    req.setEphemeral(ephemeral);
    return new Promise((resolve) => this.client!.log(req, () => resolve()));
  }

  close(): void {
    this.client?.close();
    this.client = undefined;
  }
}
