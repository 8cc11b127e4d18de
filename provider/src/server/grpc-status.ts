// Errors as the engine receives them: each of our stable codes has one gRPC status, in one
// table; a resource that failed after it had state to report carries it in the status details
// (ErrorResourceInitFailed), as Pulumi's partial-failure protocol asks.
import * as grpc from "@grpc/grpc-js";
import * as anyPb from "google-protobuf/google/protobuf/any_pb";
import type * as structPb from "google-protobuf/google/protobuf/struct_pb";
import * as pb from "@pulumi/pulumi/proto/provider_pb";
import * as statusPb from "@pulumi/pulumi/proto/status_pb";
import { errorCode, messageOf, type VmpErrorCode } from "../errors";

const STATUS: Record<VmpErrorCode, grpc.status> = {
  VMP_NOT_CONFIGURED: grpc.status.FAILED_PRECONDITION,
  VMP_INVALID_INPUT: grpc.status.INVALID_ARGUMENT,
  VMP_UNKNOWN_TOKEN: grpc.status.INVALID_ARGUMENT,
  VMP_UNIMPLEMENTED: grpc.status.UNIMPLEMENTED,
  VMP_PLAN_BLOCKED: grpc.status.FAILED_PRECONDITION,
  VMP_FENCE_UNCONFIRMED: grpc.status.FAILED_PRECONDITION,
  VMP_LOCATION_UNKNOWN: grpc.status.UNAVAILABLE,
  VMP_DOMAIN_NOT_FOUND: grpc.status.NOT_FOUND,
  VMP_MIGRATION_CANCELLED: grpc.status.CANCELLED,
  VMP_MIGRATION_TIMED_OUT: grpc.status.DEADLINE_EXCEEDED,
  VMP_DEADLINE_EXCEEDED: grpc.status.DEADLINE_EXCEEDED,
  VMP_MIGRATION_FAILED: grpc.status.UNKNOWN,
  VMP_MIGRATION_ABORTED: grpc.status.UNKNOWN,
  VMP_VERIFICATION_FAILED: grpc.status.UNKNOWN,
  VMP_RECOVERY_FAILED: grpc.status.UNKNOWN,
  VMP_FENCE_AGENT: grpc.status.UNKNOWN,
};

/** The gRPC status of an error: by its code; libvirt's own and anything else is UNKNOWN. */
export function statusOf(err: unknown): grpc.status {
  return STATUS[errorCode(err) as VmpErrorCode] ?? grpc.status.UNKNOWN;
}

/** What a failed Create or Update had to report: the resource's id, state and inputs. */
export interface PartialState {
  id: string;
  state: structPb.Struct;
  inputs: structPb.Struct;
}

function partialDetails(message: string, code: grpc.status, partial: PartialState): grpc.Metadata {
  const detail = new pb.ErrorResourceInitFailed();
  detail.setId(partial.id);
  detail.setProperties(partial.state);
  detail.setInputs(partial.inputs);
  detail.setReasonsList([message]);
  detail.setRefreshBeforeUpdate(true);
  const any = new anyPb.Any();
  any.pack(detail.serializeBinary(), "pulumirpc.ErrorResourceInitFailed");
  const status = new statusPb.Status();
  status.setCode(code);
  status.setMessage(message);
  status.addDetails(any);
  const metadata = new grpc.Metadata();
  metadata.add("grpc-status-details-bin", Buffer.from(status.serializeBinary()));
  return metadata;
}

/** The gRPC error for a failure, with the resource's state when it had one to report. */
export function grpcError(err: unknown, partial?: PartialState): grpc.ServiceError {
  const message = messageOf(err);
  const code = statusOf(err);
  return Object.assign(new Error(message), {
    code,
    details: message,
    metadata: partial ? partialDetails(message, code, partial) : new grpc.Metadata(),
  }) as grpc.ServiceError;
}
