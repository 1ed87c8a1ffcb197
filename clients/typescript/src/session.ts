import createClient, { type Client } from "openapi-fetch";
import type { components, paths } from "./generated/api.js";
import { GatehouseError, isObject } from "./errors.js";
import { creationOptionsFromJSON, credentialToJSON, requestOptionsFromJSON } from "./webauthn.js";

type Schemas = components["schemas"];
export type User = Schemas["User"];
/** GET /auth/me: the user, their second factors and this session. */
export type Me = paths["/auth/me"]["get"]["responses"][200]["content"]["application/json"];
export type MFAMethod = Schemas["MFARequired"]["methods"][number];
export type WebAuthnCredential = Schemas["WebAuthnCredential"];

/** The tokens of a token-mode session. */
export interface Tokens {
  accessToken: string;
  refreshToken: string;
  /** When the access token expires, in milliseconds since the epoch (by this machine's clock). */
  expiresAt: number;
  sessionId: string;
  userId: string;
  /** The organization the access token is scoped to, if any. */
  orgId?: string;
}

/**
 * Where a token-mode session keeps its tokens. Every refresh re-reads the
 * store first, so clients sharing one store (processes, workers) never
 * present a refresh token another has already rotated.
 */
export interface TokenStore {
  load(): Tokens | null | Promise<Tokens | null>;
  save(tokens: Tokens | null): void | Promise<void>;
}

/** Keeps the tokens in memory. */
export class MemoryTokenStore implements TokenStore {
  #tokens: Tokens | null = null;
  load(): Tokens | null {
    return this.#tokens;
  }
  save(tokens: Tokens | null): void {
    this.#tokens = tokens;
  }
}

/** What the client knows of the current session. */
export interface SessionInfo {
  sessionId: string;
  userId: string;
  orgId?: string;
  /** Access-token lifetime in seconds, as answered. */
  expiresIn: number;
}

export type SignInResult =
  | { status: "signed_in"; session: SessionInfo }
  | { status: "mfa_required"; mfaToken: string; methods: MFAMethod[] };

/** A proof for step-up (POST /auth/reauthenticate). */
export type StepUp =
  | { method: "password"; password: string }
  | { method: "totp" | "recovery_code"; code: string }
  | { method: "webauthn"; credentials?: CredentialsContainer };

/** Why a session ended: signed out here, or its refresh token was refused (expired, revoked, or reused elsewhere). */
export type SessionEndReason = "signed_out" | "refresh_rejected";

export interface GatehouseOptions {
  /** Gatehouse's public origin (the issuer), e.g. https://auth.example.com; paths carry /auth and /oauth. */
  baseUrl: string;
  /**
   * "browser": tokens stay in HttpOnly cookies, state-changing requests
   * carry the CSRF header (the page must be on Gatehouse's host, or reach
   * it through the same host, to read the CSRF cookie). "token": access
   * and refresh tokens in a TokenStore, sent as Bearer tokens.
   */
  mode: "browser" | "token";
  /**
   * Each function's own URL, when they are not all under baseUrl (Cloud
   * Run URLs without the load balancer): calls to /auth/..., /oauth/... and
   * /webhooks/... go to functionUrls.auth + "/...", and so on.
   */
  functionUrls?: { auth?: string; oauth?: string; webhooks?: string };
  /**
   * Called when a call needs a recent sign-in (403
   * reauthentication_required): return how the user proves who they are
   * (ask for the password, a code, or use a passkey), or null to give up.
   * The call is then retried once.
   */
  onStepUpRequired?: () => Promise<StepUp | null>;
  /** Token mode: where tokens live (memory by default). */
  store?: TokenStore;
  /** fetch to use (globalThis.fetch by default). */
  fetch?: typeof globalThis.fetch;
  /** Browser mode: the CSRF value; by default read from the __Host-gatehouse-csrf cookie. */
  csrfToken?: () => string | undefined;
  /** Refresh this many seconds before the access token expires (30 by default). */
  refreshMarginSeconds?: number;
  /** Called once when the session ends. */
  onSessionEnd?: (reason: SessionEndReason) => void;
}

const csrfCookie = "__Host-gatehouse-csrf";
const clientHeader = "X-Gatehouse-Client";

/** Routes that take no credentials: never authorized, never retried after a refresh. */
const publicRoutes = [
  "/auth/register",
  "/auth/login",
  "/auth/magic-link",
  "/auth/password/reset",
  "/auth/token",
  "/.well-known/",
  "/auth/.well-known/",
];

function isPublic(pathname: string): boolean {
  return publicRoutes.some((p) => pathname === p || pathname.startsWith(p.endsWith("/") ? p : p + "/"));
}

/** The error code of a failed response (Gatehouse's or RFC 6749's shape), without consuming it. */
async function errorCode(res: Response): Promise<unknown> {
  let body: unknown;
  try {
    body = await res.clone().json();
  } catch {
    return undefined;
  }
  const e = isObject(body) ? body["error"] : undefined;
  return isObject(e) ? e["code"] : e;
}

/** Reads a cookie visible to the page (browser mode's CSRF value). */
export function readCookie(name: string): string | undefined {
  if (typeof document === "undefined") return undefined;
  for (const part of document.cookie.split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return decodeURIComponent(v.join("="));
  }
  return undefined;
}

/**
 * A Gatehouse session: sign-in, sign-up, magic links, passkeys, refresh
 * and sign-out, and `api`, a typed client of the whole HTTP API
 * (openapi-fetch over docs/openapi.yaml) whose calls carry the session's
 * credentials and refresh once on an expired access token.
 *
 * Refresh is single-flight: concurrent calls that need a refresh share one
 * POST /auth/token, since every refresh rotates the refresh token and a
 * rotated token presented again outside the server's short grace counts as
 * reuse, which ends the session for everyone. A refused refresh token
 * (expired, revoked, or reused) ends the session here too: the store is
 * cleared and onSessionEnd is called with "refresh_rejected".
 */
export class Gatehouse {
  /** The typed API client (paths as in docs/openapi.yaml, e.g. "/auth/me"). */
  readonly api: Client<paths>;
  readonly mode: "browser" | "token";
  readonly #base: string;
  readonly #fetch: typeof globalThis.fetch;
  readonly #store: TokenStore;
  readonly #csrf: () => string | undefined;
  readonly #margin: number;
  readonly #onEnd: ((reason: SessionEndReason) => void) | undefined;
  readonly #onStepUp: (() => Promise<StepUp | null>) | undefined;
  readonly #functionUrls: Readonly<Record<string, string>>;
  /** Browser mode: when the access cookie expires (ms since the epoch), as far as this tab knows. */
  #expiresAt = 0;
  /** Names this client in the state tabs share. */
  readonly #tab = Math.random().toString(36).slice(2);
  readonly #inflight = new Map<string, Promise<SessionInfo>>();
  #session: SessionInfo | null = null;
  /** The organization automatic refreshes keep the access token scoped to. */
  #org: string | undefined;

  constructor(opts: GatehouseOptions) {
    this.mode = opts.mode;
    this.#base = opts.baseUrl.replace(/\/+$/, "");
    const f = opts.fetch ?? globalThis.fetch;
    this.#fetch = (input, init) => f(input, init);
    this.#store = opts.store ?? new MemoryTokenStore();
    this.#csrf = opts.csrfToken ?? (() => readCookie(csrfCookie));
    this.#margin = (opts.refreshMarginSeconds ?? 30) * 1000;
    this.#onEnd = opts.onSessionEnd;
    this.#onStepUp = opts.onStepUpRequired;
    const urls: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.functionUrls ?? {})) if (v) urls[`/${k}`] = v.replace(/\/+$/, "");
    this.#functionUrls = urls;
    this.api = createClient<paths>({
      baseUrl: this.#base,
      fetch: (req: Request) => this.#send(req, true),
      ...(this.mode === "browser" ? { credentials: "include" as const } : {}),
    });
  }

  /** The session this client knows of (browser mode: since sign-in or the last refresh here). */
  get session(): SessionInfo | null {
    return this.#session;
  }

  // --- sign-up and sign-in ---------------------------------------------

  /** Starts sign-up: Gatehouse e-mails a confirmation link (always accepted, whether or not the address has an account). */
  async signUp(email: string): Promise<void> {
    await this.#call(this.api.POST("/auth/register", { body: { email } }));
  }

  /** Confirms sign-up with the link's token and a password, and signs in. */
  async confirmSignUp(token: string, password: string, name?: string): Promise<SessionInfo> {
    const body = name === undefined ? { token, password } : { token, password, name };
    return this.#signedIn(await this.#call(this.api.POST("/auth/register/confirm", { body, headers: this.#clientHeaders() })));
  }

  /** Signs in with e-mail and password; a user with a second factor gets mfa_required. */
  async signIn(email: string, password: string): Promise<SignInResult> {
    return this.#loginResult(await this.#call(this.api.POST("/auth/login", { body: { email, password }, headers: this.#clientHeaders() })));
  }

  /** Second step with a TOTP code. */
  async completeTotp(mfaToken: string, code: string): Promise<SessionInfo> {
    const data = await this.#call(this.api.POST("/auth/login/totp", { body: { mfa_token: mfaToken, code }, headers: this.#clientHeaders() }));
    return this.#signedIn(data);
  }

  /** Second step with a recovery code. */
  async completeRecoveryCode(mfaToken: string, code: string): Promise<SessionInfo> {
    const data = await this.#call(this.api.POST("/auth/login/recovery-code", { body: { mfa_token: mfaToken, code }, headers: this.#clientHeaders() }));
    return this.#signedIn(data);
  }

  /** Asks for a sign-in link (always accepted). */
  async requestMagicLink(email: string): Promise<void> {
    await this.#call(this.api.POST("/auth/magic-link", { body: { email } }));
  }

  /** Signs in with a magic link's token (from the link's #token= fragment). */
  async signInWithMagicLink(token: string): Promise<SignInResult> {
    return this.#loginResult(await this.#call(this.api.POST("/auth/magic-link/verify", { body: { token }, headers: this.#clientHeaders() })));
  }

  /**
   * Signs in with a passkey: passwordless (a discoverable credential) or,
   * with mfaToken, as the second step after the password. Browser only.
   */
  async signInWithPasskey(opts: { mfaToken?: string; credentials?: CredentialsContainer; signal?: AbortSignal } = {}): Promise<SessionInfo> {
    const body = opts.mfaToken === undefined ? {} : { mfa_token: opts.mfaToken };
    const options = await this.#call(this.api.POST("/auth/login/webauthn/options", { body, headers: this.#clientHeaders() }));
    const container = opts.credentials ?? navigator.credentials;
    const cred = await container.get({ publicKey: requestOptionsFromJSON(options.publicKey), ...(opts.signal ? { signal: opts.signal } : {}) });
    if (!(cred instanceof PublicKeyCredential)) throw new GatehouseError(0, "unexpected_response", "no passkey was selected");
    const data = await this.#call(this.api.POST("/auth/login/webauthn", {
      body: { ceremony: options.ceremony, credential: credentialToJSON(cred) },
      headers: this.#clientHeaders(),
    }));
    return this.#signedIn(data);
  }

  /** Registers a passkey for the signed-in user (needs a recent sign-in: step-up). Browser only. */
  async registerPasskey(opts: { credentials?: CredentialsContainer; signal?: AbortSignal } = {}): Promise<WebAuthnCredential> {
    const options = await this.#call(this.api.POST("/auth/mfa/webauthn/options", { body: {} }));
    const container = opts.credentials ?? navigator.credentials;
    const cred = await container.create({ publicKey: creationOptionsFromJSON(options.publicKey), ...(opts.signal ? { signal: opts.signal } : {}) });
    if (!(cred instanceof PublicKeyCredential)) throw new GatehouseError(0, "unexpected_response", "no passkey was created");
    return this.#call(this.api.POST("/auth/mfa/webauthn", { body: { ceremony: options.ceremony, credential: credentialToJSON(cred) } }));
  }

  /**
   * Step-up: proves again who the user is, so calls that need a recent
   * sign-in go through for the next minutes. Users with a second factor
   * must use it.
   */
  async reauthenticate(proof: StepUp): Promise<void> {
    let body: paths["/auth/reauthenticate"]["post"]["requestBody"]["content"]["application/json"];
    switch (proof.method) {
      case "password":
        body = { method: "password", password: proof.password };
        break;
      case "totp":
      case "recovery_code":
        body = { method: proof.method, proof: { code: proof.code } };
        break;
      case "webauthn": {
        const options = await this.#call(this.api.POST("/auth/mfa/webauthn/step-up/options", { body: {} }));
        const cred = await (proof.credentials ?? navigator.credentials).get({ publicKey: requestOptionsFromJSON(options.publicKey) });
        if (!(cred instanceof PublicKeyCredential)) throw new GatehouseError(0, "unexpected_response", "no passkey was selected");
        body = { method: "webauthn", proof: { ceremony: options.ceremony, credential: credentialToJSON(cred) } };
        break;
      }
    }
    await this.#call(this.api.POST("/auth/reauthenticate", { body }));
  }

  // --- the session -------------------------------------------------------

  /** The signed-in user, their second factors and this session. */
  async me(): Promise<Me> {
    return this.#call(this.api.GET("/auth/me"));
  }

  /** Ends this session at Gatehouse and here. */
  async signOut(): Promise<void> {
    try {
      const { response, error } = await this.api.POST("/auth/logout");
      if (!response.ok && response.status !== 401) throw GatehouseError.fromBody(response.status, error);
    } finally {
      await this.#end("signed_out");
    }
  }

  /**
   * Rotates the refresh token for a new access token. With organization
   * (an org id, or null for an unscoped token) the access token, and every
   * later automatic refresh, is scoped to it; 403 forbidden if the user is
   * not a member (the session goes on). Concurrent calls share one request;
   * in a browser, a refresh another tab finished in the last 2 s serves.
   */
  refresh(organization?: string | null): Promise<SessionInfo> {
    // A refresh another tab finished in the last two seconds serves.
    return this.#refreshSince(organization, Date.now() - 2000, false);
  }

  /**
   * refresh, where a refresh another tab (or, with ownToo, this one)
   * finished after since (ms) counts as this one. In a browser the tabs of one origin share the cookies, so
   * they take turns (Web Locks) and a tab that waited for another's
   * refresh uses its result instead of rotating again.
   */
  #refreshSince(organization: string | null | undefined, since: number, ownToo: boolean): Promise<SessionInfo> {
    // The scope sticks only once a refresh with it succeeded (a 403 for a
    // non-member leaves the session as it was).
    const org = organization === undefined ? this.#org : (organization ?? undefined);
    const key = org ?? "";
    let p = this.#inflight.get(key);
    if (!p) {
      const locks = this.mode === "browser" && typeof navigator !== "undefined" ? navigator.locks : undefined;
      const run: Promise<SessionInfo> = locks
        ? new Promise<SessionInfo>((resolve, reject) => {
            // The lock is held until the refresh settles.
            locks.request(`gatehouse-refresh ${this.#base}`, () => this.#refreshShared(org, since, ownToo).then(resolve, reject)).catch(reject);
          })
        : this.#refresh(org);
      const flight = run
        .then((info) => {
          if (this.#session) this.#org = org;
          return info;
        })
        .finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, flight);
      p = flight;
    }
    return p;
  }

  async #refreshShared(org: string | undefined, since: number, ownToo: boolean): Promise<SessionInfo> {
    const storageKey = `gatehouse-refresh ${this.#base}`;
    try {
      const shared = JSON.parse(localStorage.getItem(storageKey) ?? "null") as (SessionInfo & { at: number; expiresAt: number; tab: string }) | null;
      if (shared && (ownToo || shared.tab !== this.#tab) && shared.at > since && shared.orgId === org && shared.expiresAt - Date.now() > this.#margin) {
        this.#expiresAt = shared.expiresAt;
        const { at: _at, expiresAt: _e, tab: _t, ...info } = shared;
        this.#session = info;
        return info;
      }
    } catch {
      // no storage: refresh on our own
    }
    const info = await this.#refresh(org);
    try {
      localStorage.setItem(storageKey, JSON.stringify({ ...info, at: Date.now(), expiresAt: this.#expiresAt, tab: this.#tab }));
    } catch {
      // no storage
    }
    return info;
  }

  /**
   * Token mode: an access token valid for at least the refresh margin,
   * refreshing first if needed (for calls to your own backend). Throws
   * session_ended when there is no session.
   */
  async accessToken(): Promise<string> {
    if (this.mode !== "token") throw new Error("accessToken: browser mode keeps tokens in cookies");
    let t = await this.#store.load();
    if (!t) throw new GatehouseError(401, "session_ended", "not signed in");
    if (t.expiresAt - Date.now() < this.#margin) {
      await this.refresh();
      t = await this.#store.load();
      if (!t) throw new GatehouseError(401, "session_ended", "not signed in");
    }
    return t.accessToken;
  }

  /**
   * fetch with the session's credentials, for your own backend: token mode
   * sends the access token as a Bearer token, browser mode sends cookies and
   * the CSRF header. An answer of 401 triggers one refresh and one retry.
   */
  async fetch(input: string | URL, init: RequestInit = {}): Promise<Response> {
    const req = new Request(input, { ...init, ...(this.mode === "browser" ? { credentials: "include" as const } : {}) });
    return this.#send(req, true, true);
  }

  // --- internals ---------------------------------------------------------

  #clientHeaders(): Record<string, string> {
    return this.mode === "browser" ? { [clientHeader]: "browser" } : {};
  }

  /** The URL of a path of the API: under its function's own URL when one is configured. */
  #url(path: string): string {
    for (const [prefix, url] of Object.entries(this.#functionUrls)) {
      if (path.startsWith(prefix + "/")) return url + path.slice(prefix.length);
    }
    return this.#base + path;
  }

  /** Whether url is Gatehouse's (or the page's own origin): the only places the CSRF value goes. */
  #trusted(url: string): boolean {
    const origin = new URL(url).origin;
    if (origin === new URL(this.#base).origin) return true;
    if (Object.values(this.#functionUrls).some((u) => new URL(u).origin === origin)) return true;
    return typeof location !== "undefined" && location.origin === origin;
  }

  async #send(req: Request, retry: boolean, foreign = false): Promise<Response> {
    const path = foreign ? "" : new URL(req.url).pathname;
    if (!foreign) {
      const u = new URL(req.url);
      const target = this.#url(u.pathname) + u.search;
      if (target !== req.url) {
        const body = ["GET", "HEAD"].includes(req.method) ? undefined : await req.arrayBuffer();
        req = new Request(target, { method: req.method, headers: req.headers, credentials: req.credentials, signal: req.signal, ...(body ? { body } : {}) });
      }
    }
    const authorize = foreign || !isPublic(path);
    const again = retry && authorize ? req.clone() : undefined;
    const started = Date.now();
    if (this.mode === "browser" && authorize && this.#session && this.#expiresAt - started < this.#margin) {
      await this.refresh().catch(() => undefined); // refresh before expiry; a failure shows in the call itself
    }
    if (this.mode === "browser") {
      if (!foreign) req.headers.set(clientHeader, "browser");
      const csrf = this.#csrf();
      if (csrf && !["GET", "HEAD", "OPTIONS"].includes(req.method) && this.#trusted(req.url)) req.headers.set("X-CSRF-Token", csrf);
    } else if (authorize && !req.headers.has("Authorization")) {
      const t = await this.#store.load();
      if (t) req.headers.set("Authorization", `Bearer ${await this.accessToken()}`);
    }
    let res: Response;
    try {
      res = await this.#fetch(req);
    } catch (err) {
      throw new GatehouseError(0, "network_error", `request to ${req.url} failed`, {}, { cause: err });
    }
    if (!again) return res;
    if (res.status === 403 && this.#onStepUp && (await errorCode(res)) === "reauthentication_required") {
      const proof = await this.#onStepUp();
      if (!proof) return res;
      await this.reauthenticate(proof);
      if (this.mode === "token") again.headers.delete("Authorization");
      return this.#send(again, false, foreign);
    }
    if (res.status !== 401 || !(await this.#mayRefresh(res))) return res;
    try {
      await this.#refreshSince(undefined, started, true); // a refresh after this call went out serves
    } catch {
      return res;
    }
    if (this.mode === "token") again.headers.delete("Authorization");
    return this.#send(again, false, foreign);
  }

  /** Whether a 401 is an expired or missing access token that a refresh may cure. */
  async #mayRefresh(res: Response): Promise<boolean> {
    if (this.mode === "token" && !(await this.#store.load())) return false;
    const code = await errorCode(res);
    return code === undefined || code === "invalid_token" || code === "unauthenticated";
  }

  async #refresh(org: string | undefined): Promise<SessionInfo> {
    const headers: Record<string, string> = { ...this.#clientHeaders() };
    let body: Record<string, string> | undefined;
    let presented: Tokens | null = null;
    if (this.mode === "token") {
      presented = await this.#store.load();
      if (!presented) throw new GatehouseError(401, "session_ended", "not signed in");
      body = { refresh_token: presented.refreshToken };
    } else {
      const csrf = this.#csrf();
      if (csrf) headers["X-CSRF-Token"] = csrf;
    }
    if (org !== undefined) body = { ...body, organization: org };
    if (body) headers["Content-Type"] = "application/json";
    let res: Response;
    try {
      res = await this.#fetch(this.#url("/auth/token"), {
        method: "POST",
        headers,
        ...(body ? { body: JSON.stringify(body) } : {}),
        ...(this.mode === "browser" ? { credentials: "include" as const } : {}),
      });
    } catch (err) {
      throw new GatehouseError(0, "network_error", "refresh failed", {}, { cause: err });
    }
    if (res.ok) return this.#signedIn((await res.json()) as Schemas["Tokens"]);
    const err = await GatehouseError.fromResponse(res);
    if (err.status === 401 && err.code === "invalid_grant") {
      // Another client sharing the store may have rotated the token while
      // this one was in flight: adopt its successor rather than end.
      const now = presented ? await this.#store.load() : null;
      if (now && presented && now.refreshToken !== presented.refreshToken) {
        return { sessionId: now.sessionId, userId: now.userId, expiresIn: Math.round((now.expiresAt - Date.now()) / 1000), ...(now.orgId ? { orgId: now.orgId } : {}) };
      }
      await this.#end("refresh_rejected");
      throw new GatehouseError(401, "session_ended", "the session ended; sign in again", {}, { cause: err });
    }
    throw err;
  }

  async #loginResult(data: Schemas["Tokens"] | Schemas["MFARequired"]): Promise<SignInResult> {
    if ("mfa_required" in data) return { status: "mfa_required", mfaToken: data.mfa_token, methods: data.methods };
    return { status: "signed_in", session: await this.#signedIn(data) };
  }

  async #signedIn(t: Schemas["Tokens"]): Promise<SessionInfo> {
    const info: SessionInfo = { sessionId: t.session_id, userId: t.user_id, expiresIn: t.expires_in, ...(t.org_id ? { orgId: t.org_id } : {}) };
    if (this.mode === "token") {
      if (!t.access_token || !t.refresh_token) throw new GatehouseError(200, "unexpected_response", "token response without tokens");
      await this.#store.save({
        accessToken: t.access_token, refreshToken: t.refresh_token, expiresAt: Date.now() + t.expires_in * 1000,
        sessionId: t.session_id, userId: t.user_id, ...(t.org_id ? { orgId: t.org_id } : {}),
      });
    }
    if (this.mode === "browser") this.#expiresAt = Date.now() + t.expires_in * 1000;
    this.#session = info;
    return info;
  }

  async #end(reason: SessionEndReason): Promise<void> {
    const had = this.#session !== null || (this.mode === "token" && (await this.#store.load()) !== null);
    this.#session = null;
    this.#org = undefined;
    this.#expiresAt = 0;
    if (this.mode === "token") await this.#store.save(null);
    if (had) this.#onEnd?.(reason);
  }

  /** Unwraps an openapi-fetch result: the data, or a GatehouseError. */
  async #call<T>(p: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
    const { data, error, response } = await p;
    if (!response.ok) throw GatehouseError.fromBody(response.status, error);
    return data as T;
  }
}
