import type { components } from "./generated/api.js";

/** The stable error codes of Gatehouse's JSON errors (the Error schema's enum in docs/openapi.yaml). */
export type ErrorCode = components["schemas"]["Error"]["error"]["code"];

/**
 * Codes the client itself reports: the network failed, the answer was not
 * a Gatehouse error, or the session ended (its refresh token was refused,
 * so the user must sign in again).
 */
export type ClientErrorCode = "network_error" | "unexpected_response" | "session_ended";

/** A failed call: the HTTP status and the error code, message and field problems Gatehouse sent. */
export class GatehouseError extends Error {
  override readonly name = "GatehouseError";
  /** HTTP status; 0 when no answer arrived. */
  readonly status: number;
  readonly code: ErrorCode | ClientErrorCode;
  /** Validation errors: request field (JSON name) to its problem. */
  readonly fields: Readonly<Record<string, string>>;

  constructor(status: number, code: ErrorCode | ClientErrorCode, message: string, fields: Record<string, string> = {}, options?: ErrorOptions) {
    super(message, options);
    this.status = status;
    this.code = code;
    this.fields = fields;
  }

  /** Reads the error out of a failed response (its body is consumed). */
  static async fromResponse(res: Response): Promise<GatehouseError> {
    let body: unknown;
    try {
      body = await res.json();
    } catch {
      body = undefined;
    }
    return GatehouseError.fromBody(res.status, body);
  }

  /** Builds the error from a status and a parsed body (the Error schema, or RFC 6749's {error, error_description}). */
  static fromBody(status: number, body: unknown): GatehouseError {
    if (isObject(body)) {
      const e = body["error"];
      if (isObject(e) && typeof e["code"] === "string") {
        const fields = isObject(e["fields"]) ? stringRecord(e["fields"]) : {};
        return new GatehouseError(status, e["code"] as ErrorCode, typeof e["message"] === "string" ? e["message"] : e["code"], fields);
      }
      if (typeof e === "string") {
        const d = body["error_description"];
        return new GatehouseError(status, e as ErrorCode, typeof d === "string" ? d : e);
      }
    }
    return new GatehouseError(status, "unexpected_response", `unexpected answer (HTTP ${status})`);
  }
}

/** Reports whether e is a GatehouseError, with one of codes when any are given. */
export function isGatehouseError(e: unknown, ...codes: (ErrorCode | ClientErrorCode)[]): e is GatehouseError {
  return e instanceof GatehouseError && (codes.length === 0 || codes.includes(e.code));
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function stringRecord(v: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    if (typeof x === "string") out[k] = x;
  }
  return out;
}
