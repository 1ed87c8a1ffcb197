// Verifying Gatehouse access tokens in a Node service: EdDSA JWTs checked
// against the issuer's JWKS (found through OIDC discovery) with jose, the
// iss/aud/exp checks, organization permission helpers, and a middleware
// for Express-style (req, res, next) stacks and plain node:http servers.

import type { IncomingMessage, ServerResponse } from "node:http";
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from "jose";
import type { components } from "../generated/api.js";

export type Permission = components["schemas"]["Permission"];

/** The organization an organization-scoped token is for, and the standing it claims. */
export interface OrgClaims {
  id: string;
  role: string;
  permissions: string[];
}

/** The verified claims of an access token. */
export interface Claims {
  issuer: string;
  audience: string[];
  /** The user id. */
  subject: string;
  sessionId: string;
  issuedAt: Date;
  expiresAt: Date;
  /** Set for an organization-scoped token (a snapshot from its issue: at most one access-token lifetime old). */
  org?: OrgClaims;
}

export interface VerifierOptions {
  /** The issuer, Gatehouse's public origin (GATEHOUSE_PUBLIC_URL). */
  issuer: string;
  /** The audience tokens must carry; "gatehouse" by default. */
  audience?: string;
  /** Clock skew tolerated on exp, nbf and iat, in seconds (0-60); 30 by default, as the Go verify package. */
  clockToleranceSeconds?: number;
  /** The JWKS URL; by default the jwks_uri of the issuer's OIDC discovery document. */
  jwksUrl?: string;
  /** fetch for discovery (globalThis.fetch by default). */
  fetch?: typeof globalThis.fetch;
}

/** Why a token was refused: 401 for a missing or bad token, 403 for a missing permission, 503 when keys cannot be had. */
export class VerifyError extends Error {
  override readonly name = "VerifyError";
  constructor(
    readonly status: 401 | 403 | 503,
    readonly code: "unauthenticated" | "invalid_token" | "forbidden" | "unavailable",
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Reads the OIDC discovery document of issuer and checks that it is the issuer's. */
export async function discover(issuer: string, f: typeof globalThis.fetch = globalThis.fetch): Promise<{ issuer: string; jwks_uri: string; [k: string]: unknown }> {
  const url = issuer.replace(/\/+$/, "") + "/.well-known/openid-configuration";
  const res = await f(url, { headers: { Accept: "application/json" } });
  if (!res.ok) throw new Error(`discovery: ${url} answered ${res.status}`);
  const doc = (await res.json()) as { issuer?: unknown; jwks_uri?: unknown };
  if (doc.issuer !== issuer || typeof doc.jwks_uri !== "string") throw new Error(`discovery: the document at ${url} is not issuer ${issuer}'s`);
  return doc as { issuer: string; jwks_uri: string };
}

/**
 * Verifies access tokens. Only EdDSA signatures are accepted; the key is
 * found by kid in the issuer's JWKS (cached by jose, fetched again for an
 * unknown kid, at most every 30 s). Safe to share.
 */
export class Verifier {
  readonly #opts: Required<Omit<VerifierOptions, "jwksUrl" | "fetch">> & Pick<VerifierOptions, "jwksUrl" | "fetch">;
  #keys: Promise<JWTVerifyGetKey> | undefined;

  constructor(opts: VerifierOptions) {
    const tol = opts.clockToleranceSeconds ?? 30;
    if (tol < 0 || tol > 60) throw new RangeError("clockToleranceSeconds must be within 0..60");
    if (!/^https?:\/\//.test(opts.issuer)) throw new TypeError("issuer must be an http(s) URL");
    this.#opts = { ...opts, audience: opts.audience ?? "gatehouse", clockToleranceSeconds: tol };
  }

  #getKeys(): Promise<JWTVerifyGetKey> {
    this.#keys ??= (async () => {
      const url = this.#opts.jwksUrl ?? (await discover(this.#opts.issuer, this.#opts.fetch)).jwks_uri;
      return createRemoteJWKSet(new URL(url), { cooldownDuration: 30_000 });
    })().catch((err: unknown) => {
      this.#keys = undefined; // try discovery again next time
      throw err;
    });
    return this.#keys;
  }

  /** Verifies token and returns its claims; throws VerifyError. */
  async verify(token: string): Promise<Claims> {
    let keys: JWTVerifyGetKey;
    try {
      keys = await this.#getKeys();
    } catch (err) {
      throw new VerifyError(503, "unavailable", "the issuer's keys cannot be read", { cause: err });
    }
    let payload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        algorithms: ["EdDSA"],
        issuer: this.#opts.issuer,
        audience: this.#opts.audience,
        clockTolerance: this.#opts.clockToleranceSeconds,
        requiredClaims: ["sub", "exp", "iat"],
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWKSTimeout || (err instanceof Error && /fetch|ECONNREFUSED|network/i.test(err.message) && !(err instanceof joseErrors.JOSEError))) {
        throw new VerifyError(503, "unavailable", "the issuer's keys cannot be read", { cause: err });
      }
      throw new VerifyError(401, "invalid_token", "the access token is invalid or expired", { cause: err });
    }
    const sid = payload["sid"];
    if (typeof sid !== "string" || sid === "" || typeof payload.sub !== "string") {
      throw new VerifyError(401, "invalid_token", "the access token lacks sub or sid");
    }
    const claims: Claims = {
      issuer: payload.iss ?? "",
      audience: Array.isArray(payload.aud) ? payload.aud : payload.aud ? [payload.aud] : [],
      subject: payload.sub,
      sessionId: sid,
      issuedAt: new Date((payload.iat ?? 0) * 1000),
      expiresAt: new Date((payload.exp ?? 0) * 1000),
    };
    const orgId = payload["org_id"];
    if (typeof orgId === "string" && orgId !== "") {
      const role = payload["role"];
      const perms = payload["permissions"];
      claims.org = {
        id: orgId,
        role: typeof role === "string" ? role : "",
        permissions: Array.isArray(perms) ? perms.filter((p): p is string => typeof p === "string") : [],
      };
    }
    return claims;
  }
}

/** Whether claims are of an organization-scoped token for org (when given) that grants perm. */
export function can(claims: Claims | undefined, perm: Permission | string, org?: string): boolean {
  return !!claims?.org && (org === undefined || claims.org.id === org) && claims.org.permissions.includes(perm);
}

/** Throws a 403 VerifyError unless can(claims, perm, org). */
export function requirePermission(claims: Claims | undefined, perm: Permission | string, org?: string): void {
  if (!claims) throw new VerifyError(401, "unauthenticated", "authentication required");
  if (!claims.org) throw new VerifyError(403, "forbidden", "the token is not organization-scoped");
  if (org !== undefined && claims.org.id !== org) throw new VerifyError(403, "forbidden", "the token is for another organization");
  if (!claims.org.permissions.includes(perm)) throw new VerifyError(403, "forbidden", `missing permission ${perm}`);
}

/** The bearer token of an Authorization header value; undefined when absent; throws on a malformed one. */
function bearerOf(h: string | null | undefined): string | undefined {
  if (h === undefined || h === null) return undefined;
  const m = /^Bearer +(\S+)\s*$/i.exec(h);
  if (!m?.[1]) throw new VerifyError(401, "invalid_token", "the Authorization header is not one bearer token");
  return m[1];
}

/** The bearer token of a request; undefined when there is no Authorization header; throws on a malformed one. */
export function bearerToken(req: IncomingMessage): string | undefined {
  return bearerOf(req.headers.authorization);
}

/** Writes err (a VerifyError, else a 503) in Gatehouse's error shape with an RFC 6750 challenge. */
export function writeError(res: ServerResponse, err: unknown): void {
  const e = err instanceof VerifyError ? err : new VerifyError(503, "unavailable", "the service is temporarily unavailable");
  if (e.status === 401) {
    res.setHeader("WWW-Authenticate", e.code === "unauthenticated" ? 'Bearer realm="gatehouse"' : 'Bearer realm="gatehouse", error="invalid_token"');
  } else if (e.status === 403) {
    res.setHeader("WWW-Authenticate", 'Bearer realm="gatehouse", error="insufficient_scope"');
  }
  res.statusCode = e.status;
  res.setHeader("Content-Type", "application/json; charset=utf-8");
  res.setHeader("Cache-Control", "no-store");
  const message = { unauthenticated: "Authentication required.", invalid_token: "The access token is invalid or expired.",
    forbidden: "You do not have permission to do this.", unavailable: "The service is temporarily unavailable." }[e.code];
  res.end(JSON.stringify({ error: { code: e.code, message } }));
}

/** A request that passed the middleware. */
export type AuthenticatedRequest<R extends IncomingMessage = IncomingMessage> = R & { gatehouse: Claims };

export interface MiddlewareOptions {
  /** When set, the token must grant this permission in the organization orgOf names. */
  permission?: Permission | string;
  /** The organization of the request (e.g. req => req.params.org); with permission. */
  orgOf?: (req: IncomingMessage) => string | undefined;
}

/**
 * Middleware for Express-style stacks: verifies the bearer token, sets
 * req.gatehouse to its claims and calls next(); otherwise answers 401,
 * 403 or 503 itself and does not call next.
 */
export function middleware(v: Verifier, opts: MiddlewareOptions = {}) {
  return (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void => {
    authenticate(v, req, opts).then(
      (claims) => {
        (req as AuthenticatedRequest).gatehouse = claims;
        next();
      },
      (err: unknown) => writeError(res, err),
    );
  };
}

/** Wraps a node:http handler: it runs only for requests with a valid token (and permission). */
export function protect<R extends IncomingMessage>(
  v: Verifier,
  handler: (req: AuthenticatedRequest<R>, res: ServerResponse) => void | Promise<void>,
  opts: MiddlewareOptions = {},
): (req: R, res: ServerResponse) => void {
  const mw = middleware(v, opts);
  return (req, res) =>
    mw(req, res, () => {
      Promise.resolve(handler(req as AuthenticatedRequest<R>, res)).catch(() => {
        if (!res.headersSent) writeError(res, undefined);
      });
    });
}

async function authenticate(v: Verifier, req: IncomingMessage, opts: MiddlewareOptions): Promise<Claims> {
  const tok = bearerToken(req);
  if (tok === undefined) throw new VerifyError(401, "unauthenticated", "authentication required");
  const claims = await v.verify(tok);
  if (opts.permission !== undefined) requirePermission(claims, opts.permission, opts.orgOf?.(req));
  return claims;
}

/** err (a VerifyError, else a 503) as a Fetch API Response in Gatehouse's error shape. */
export function errorResponse(err: unknown): Response {
  const e = err instanceof VerifyError ? err : new VerifyError(503, "unavailable", "the service is temporarily unavailable");
  const headers = new Headers({ "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store" });
  if (e.status === 401) {
    headers.set("WWW-Authenticate", e.code === "unauthenticated" ? 'Bearer realm="gatehouse"' : 'Bearer realm="gatehouse", error="invalid_token"');
  } else if (e.status === 403) {
    headers.set("WWW-Authenticate", 'Bearer realm="gatehouse", error="insufficient_scope"');
  }
  const message = { unauthenticated: "Authentication required.", invalid_token: "The access token is invalid or expired.",
    forbidden: "You do not have permission to do this.", unavailable: "The service is temporarily unavailable." }[e.code];
  return new Response(JSON.stringify({ error: { code: e.code, message } }), { status: e.status, headers });
}

/**
 * Wraps a Fetch API handler ((Request) => Response: Hono, Next.js route
 * handlers, Bun, Deno, workers): the handler runs only for a request with a
 * valid token (and permission), and gets its claims.
 */
export function fetchHandler(
  v: Verifier,
  handler: (req: Request, claims: Claims) => Response | Promise<Response>,
  opts: { permission?: Permission | string; orgOf?: (req: Request) => string | undefined } = {},
): (req: Request) => Promise<Response> {
  return async (req) => {
    let claims: Claims;
    try {
      const tok = bearerOf(req.headers.get("Authorization"));
      if (tok === undefined) throw new VerifyError(401, "unauthenticated", "authentication required");
      claims = await v.verify(tok);
      if (opts.permission !== undefined) requirePermission(claims, opts.permission, opts.orgOf?.(req));
    } catch (err) {
      return errorResponse(err);
    }
    return handler(req, claims);
  };
}
