// One error base class with stable codes. Errors from libvirt keep libvirt's numeric code,
// domain and message; errors of our own (transport, timeout, closed connection) have string codes.
import { VmpError } from "../errors";
import { ERROR_CODE_NAMES, ERROR_DOMAIN_NAMES } from "./protocol/virterror.gen";

export type ClientErrorCode =
  | "VMP_LIBVIRT_CLOSED"
  | "VMP_LIBVIRT_TIMEOUT"
  | "VMP_LIBVIRT_ABORTED"
  | "VMP_LIBVIRT_PROTOCOL"
  | "VMP_LIBVIRT_TRANSPORT"
  | "VMP_LIBVIRT_HOST_KEY"
  | "VMP_LIBVIRT_AUTH"
  | "VMP_LIBVIRT_URI";

export class LibvirtClientError extends VmpError {
  declare readonly code: ClientErrorCode | string;

  constructor(code: ClientErrorCode | string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** The wire error libvirt returned for a call (virNetMessageError / virError). */
export interface LibvirtWireError {
  code: number;
  domain: number;
  message: string | null;
  level: number;
  dom?: { name: string } | null;
  str1?: string | null;
  str2?: string | null;
  str3?: string | null;
  int1?: number;
  int2?: number;
}

export class LibvirtError extends LibvirtClientError {
  /** libvirt's virErrorNumber, e.g. 42 for VIR_ERR_NO_DOMAIN. */
  readonly libvirtCode: number;
  /** libvirt's virErrorDomain, e.g. 10 for VIR_FROM_QEMU. */
  readonly libvirtDomain: number;
  readonly level: number;
  readonly procedure: string;

  constructor(wire: LibvirtWireError, procedure: string) {
    const codeName = ERROR_CODE_NAMES[wire.code] ?? `VIR_ERR_${wire.code}`;
    super(codeName, wire.message ?? `${codeName} (no message)`);
    this.libvirtCode = wire.code;
    this.libvirtDomain = wire.domain;
    this.level = wire.level;
    this.procedure = procedure;
  }

  get codeName(): string {
    return ERROR_CODE_NAMES[this.libvirtCode] ?? `VIR_ERR_${this.libvirtCode}`;
  }

  get domainName(): string {
    return ERROR_DOMAIN_NAMES[this.libvirtDomain] ?? `VIR_FROM_${this.libvirtDomain}`;
  }
}

/** Walks the cause chain for a libvirt error with one of the given code names. */
export function findLibvirtError(err: unknown, ...codeNames: string[]): LibvirtError | undefined {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    if (e instanceof LibvirtError && (codeNames.length === 0 || codeNames.includes(e.codeName)))
      return e;
  }
  return undefined;
}

export function isNotFound(err: unknown): boolean {
  return (
    findLibvirtError(
      err,
      "VIR_ERR_NO_DOMAIN",
      "VIR_ERR_NO_STORAGE_POOL",
      "VIR_ERR_NO_STORAGE_VOL",
      "VIR_ERR_NO_NETWORK",
      "VIR_ERR_NO_SECRET",
    ) !== undefined
  );
}

export function isConnectionClosed(err: unknown): boolean {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    if (e instanceof LibvirtClientError && e.code === "VMP_LIBVIRT_CLOSED") return true;
  }
  return false;
}
