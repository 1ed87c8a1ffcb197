// The Node verifier (jose against the issuer's OIDC discovery) and its
// middleware, with tokens a real `gatehouse serve` issued: organization-
// scoped tokens from the client's refresh(org), and forged ones.

import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Server as HTTPServer } from "node:http";
import { after, before, describe, it } from "node:test";
import { generateKeyPair, SignJWT } from "jose";
import { Gatehouse, MemoryTokenStore } from "../src/index.js";
import { can, discover, fetchHandler, protect, Verifier, VerifyError } from "../src/node/index.js";
import { email, password, startGatehouse, type Server } from "./harness.js";

let gh: Server;
let client: Gatehouse;
let store: MemoryTokenStore;
let orgId: string;

before(async () => {
  gh = await startGatehouse();
  store = new MemoryTokenStore();
  client = new Gatehouse({ baseUrl: gh.url, mode: "token", store });
  const addr = email("verifier");
  await client.signUp(addr);
  await client.confirmSignUp(await gh.linkToken(addr, "email_verification"), password());
  const { data, response } = await client.api.POST("/auth/orgs", { body: { name: "Acme" } });
  assert.equal(response.status, 201);
  assert.ok(data);
  orgId = data.id;
});
after(async () => {
  await gh?.stop();
});

async function orgToken(): Promise<string> {
  const info = await client.refresh(orgId);
  assert.equal(info.orgId, orgId);
  return client.accessToken();
}

async function unscopedToken(): Promise<string> {
  const info = await client.refresh(null);
  assert.equal(info.orgId, undefined);
  return client.accessToken();
}

describe("Node verifier", () => {
  it("finds the keys through OIDC discovery and verifies an organization-scoped token", async () => {
    const doc = await discover(gh.url);
    assert.equal(doc.issuer, gh.url);
    assert.deepEqual(doc["id_token_signing_alg_values_supported"], ["EdDSA"]);
    const v = new Verifier({ issuer: gh.url });
    const claims = await v.verify(await orgToken());
    assert.equal(claims.issuer, gh.url);
    assert.deepEqual(claims.audience, ["gatehouse"]);
    assert.equal(claims.subject, store.load()?.userId);
    assert.equal(claims.sessionId, store.load()?.sessionId);
    assert.equal(claims.org?.id, orgId);
    assert.equal(claims.org?.role, "owner");
    assert.ok(can(claims, "members.manage", orgId));
    assert.ok(!can(claims, "members.manage", "org_other"));
    assert.ok(!can(await v.verify(await unscopedToken()), "read"));
  });

  it("refuses other audiences and issuers, foreign keys, other algorithms and tampering", async () => {
    const tok = await orgToken();
    const refused = async (v: Verifier, t: string, status = 401) =>
      assert.rejects(v.verify(t), (e: unknown) => e instanceof VerifyError && e.status === status);
    await refused(new Verifier({ issuer: gh.url, audience: "billing" }), tok);
    const doc = await discover(gh.url);
    await refused(new Verifier({ issuer: "http://localhost:1", jwksUrl: doc.jwks_uri }), tok);
    await refused(new Verifier({ issuer: gh.url }), tok.slice(0, -6) + (tok.endsWith("AAAAAA") ? "BBBBBB" : "AAAAAA"));

    // A token with the right claims and kid, signed by a key Gatehouse never published.
    const kid = JSON.parse(Buffer.from(tok.split(".")[0] ?? "", "base64url").toString()).kid as string;
    const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    const claims = JSON.parse(Buffer.from(tok.split(".")[1] ?? "", "base64url").toString());
    const forged = await new SignJWT(claims).setProtectedHeader({ alg: "EdDSA", kid }).sign(privateKey);
    await refused(new Verifier({ issuer: gh.url }), forged);
    // An HMAC token keyed with the public key's bytes (algorithm confusion).
    const jwks = (await (await fetch(doc.jwks_uri)).json()) as { keys: { x: string }[] };
    const hs = await new SignJWT(claims).setProtectedHeader({ alg: "HS256", kid }).sign(Buffer.from(jwks.keys[0]?.x ?? "", "base64url"));
    await refused(new Verifier({ issuer: gh.url }), hs);
    // Keys that cannot be read: 503, not 401.
    await refused(new Verifier({ issuer: gh.url, jwksUrl: "http://127.0.0.1:1/jwks.json" }), tok, 503);
  });

  it("protects node:http handlers: 401 without a token, 403 without the permission, the claims otherwise", async () => {
    const v = new Verifier({ issuer: gh.url });
    const srv: HTTPServer = createServer(
      protect(v, (req, res) => {
        res.setHeader("Content-Type", "application/json");
        res.end(JSON.stringify({ user: req.gatehouse.subject, org: req.gatehouse.org?.id }));
      }, { permission: "members.manage", orgOf: (req) => new URL(req.url ?? "/", "http://x").searchParams.get("org") ?? undefined }),
    );
    srv.listen(0, "127.0.0.1");
    await once(srv, "listening");
    const addr = srv.address();
    assert.ok(addr && typeof addr === "object");
    const get = (path: string, token?: string) =>
      fetch(`http://127.0.0.1:${addr.port}${path}`, token ? { headers: { Authorization: `Bearer ${token}` } } : {});
    try {
      let res = await get(`/?org=${orgId}`);
      assert.equal(res.status, 401);
      assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="gatehouse"');
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, "unauthenticated");
      res = await get(`/?org=${orgId}`, "not-a-jwt");
      assert.equal(res.status, 401);
      res = await get(`/?org=${orgId}`, await unscopedToken());
      assert.equal(res.status, 403);
      const tok = await orgToken();
      res = await get(`/?org=org_other`, tok);
      assert.equal(res.status, 403);
      res = await get(`/?org=${orgId}`, tok);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { user: store.load()?.userId, org: orgId });
    } finally {
      srv.close();
    }
  });

  it("wraps Fetch API handlers the same way", async () => {
    const v = new Verifier({ issuer: gh.url });
    const h = fetchHandler(v, (_req, claims) => Response.json({ user: claims.subject }), {
      permission: "read",
      orgOf: (req) => new URL(req.url).searchParams.get("org") ?? undefined,
    });
    const call = (token?: string, org = orgId) =>
      h(new Request(`http://svc/?org=${org}`, token ? { headers: { Authorization: `Bearer ${token}` } } : {}));
    assert.equal((await call()).status, 401);
    assert.equal((await call("x.y.z")).status, 401);
    assert.equal((await call(await unscopedToken())).status, 403);
    const tok = await orgToken();
    assert.equal((await call(tok, "org_other")).status, 403);
    const ok = await call(tok);
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { user: store.load()?.userId });
  });
});
