// The client in token mode against a real `gatehouse serve`: sign-up
// through the e-mailed link, typed errors, refresh rotation, single-flight
// refresh, a store shared by two clients, and refresh-token reuse ending
// the session.

import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Gatehouse, GatehouseError, isGatehouseError, MemoryTokenStore, type SessionEndReason, type Tokens } from "../src/index.js";
import { email, password, startGatehouse, type Server } from "./harness.js";

let gh: Server;
before(async () => {
  gh = await startGatehouse({ GATEHOUSE_REFRESH_GRACE: "1s" }); // two tabs within 1 s share a successor; later is reuse
});
after(async () => {
  await gh?.stop();
});

/** The RFC 6238 code (SHA-1, 6 digits, 30 s) of a base32 secret at time ms. */
function totp(secret: string, ms: number): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const ch of secret.replace(/=+$/, "")) bits += alphabet.indexOf(ch).toString(2).padStart(5, "0");
  const key = Buffer.from((bits.match(/.{8}/g) ?? []).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(ms / 30_000)));
  const mac = createHmac("sha1", key).update(counter).digest();
  const off = (mac[mac.length - 1] ?? 0) & 0xf;
  return String((mac.readUInt32BE(off) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}

/** fetch that counts the refresh requests it carries. */
function countingFetch() {
  const counts = { refresh: 0 };
  const f: typeof fetch = (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    if (new URL(url).pathname === "/auth/token") counts.refresh++;
    return fetch(input, init);
  };
  return { counts, fetch: f };
}

/** Signs a new user up through the e-mailed link; returns the client and the address. */
async function signedUp(opts: { store?: MemoryTokenStore; fetch?: typeof fetch; onSessionEnd?: (r: SessionEndReason) => void } = {}) {
  const client = new Gatehouse({ baseUrl: gh.url, mode: "token", ...opts });
  const addr = email("token");
  await client.signUp(addr);
  const info = await client.confirmSignUp(await gh.linkToken(addr, "email_verification"), password());
  return { client, addr, info };
}

async function expire(store: MemoryTokenStore): Promise<Tokens> {
  const t = store.load();
  assert.ok(t);
  store.save({ ...t, expiresAt: Date.now() - 1000 });
  return t;
}

describe("token mode", () => {
  it("signs up through the e-mailed link and calls the API with the access token", async () => {
    const store = new MemoryTokenStore();
    const { client, addr, info } = await signedUp({ store });
    const me = await client.me();
    assert.equal(me.user.email, addr);
    assert.equal(me.user.id, info.userId);
    assert.equal(me.session.id, info.sessionId);
    assert.match(store.load()?.accessToken ?? "", /^eyJ/);
  });

  it("signs in with a password and reports failures as typed errors", async () => {
    const pw = password();
    const first = new Gatehouse({ baseUrl: gh.url, mode: "token" });
    const addr = email("login");
    await first.signUp(addr);
    await first.confirmSignUp(await gh.linkToken(addr, "email_verification"), pw);

    const client = new Gatehouse({ baseUrl: gh.url, mode: "token" });
    const res = await client.signIn(addr, pw);
    assert.equal(res.status, "signed_in");

    const viaLink = new Gatehouse({ baseUrl: gh.url, mode: "token" });
    await viaLink.requestMagicLink(addr);
    const link = await viaLink.signInWithMagicLink(await gh.linkToken(addr, "magic_link"));
    assert.equal(link.status, "signed_in");
    assert.equal((await viaLink.me()).user.email, addr);

    await assert.rejects(client.signIn(addr, pw + "x"), (e: unknown) => {
      assert.ok(isGatehouseError(e, "invalid_credentials"));
      assert.equal(e.status, 401);
      return true;
    });
    await assert.rejects(client.signIn("not-an-address", pw), (e: unknown) => {
      assert.ok(e instanceof GatehouseError);
      assert.equal(e.code, "invalid_request");
      assert.ok(e.fields["email"], "the field problem names email");
      return true;
    });
    const { error, response } = await client.api.GET("/auth/orgs/{org}/members", { params: { path: { org: "org_none" } } });
    assert.equal(response.status, 403);
    assert.equal(GatehouseError.fromBody(response.status, error).code, "forbidden");
  });

  it("rotates the refresh token and refreshes once for many concurrent calls", async () => {
    const store = new MemoryTokenStore();
    const { counts, fetch } = countingFetch();
    const { client } = await signedUp({ store, fetch });
    const before = await expire(store);
    const results = await Promise.all(Array.from({ length: 8 }, () => client.me()));
    assert.equal(results.length, 8);
    assert.equal(counts.refresh, 1, "one refresh for eight calls");
    const afterT = store.load();
    assert.ok(afterT);
    assert.notEqual(afterT.refreshToken, before.refreshToken, "the refresh token rotated");
    assert.ok(afterT.expiresAt > Date.now() + 60_000);
  });

  it("refreshes once and retries when the server refuses the access token", async () => {
    const store = new MemoryTokenStore();
    const { counts, fetch } = countingFetch();
    const { client } = await signedUp({ store, fetch });
    const t = store.load();
    assert.ok(t);
    store.save({ ...t, accessToken: t.accessToken.slice(0, -4) + "AAAA" }); // a bad signature
    const me = await client.me();
    assert.equal(me.user.id, t.userId);
    assert.equal(counts.refresh, 1);
  });

  it("shares one store between clients without tripping reuse detection", async () => {
    const store = new MemoryTokenStore();
    const { client: a } = await signedUp({ store });
    const b = new Gatehouse({ baseUrl: gh.url, mode: "token", store });
    for (let i = 0; i < 3; i++) {
      await expire(store);
      await Promise.all([a.me(), b.me(), a.refresh(), b.refresh()]);
    }
    assert.ok((await a.me()).user.id);
    assert.ok((await b.me()).user.id);
  });

  it("ends the session everywhere when a rotated refresh token is presented again", async () => {
    const ended: SessionEndReason[] = [];
    const store = new MemoryTokenStore();
    const { client } = await signedUp({ store, onSessionEnd: (r) => ended.push(r) });
    const stolen = store.load();
    assert.ok(stolen);
    await client.refresh(); // rotates: the stolen copy is now a rotated token

    // An attacker's copy, presented after the grace period, is reuse.
    await new Promise((r) => setTimeout(r, 1500));
    const attackerStore = new MemoryTokenStore();
    attackerStore.save(stolen);
    const attackerEnded: SessionEndReason[] = [];
    const attacker = new Gatehouse({ baseUrl: gh.url, mode: "token", store: attackerStore, onSessionEnd: (r) => attackerEnded.push(r) });
    await assert.rejects(attacker.refresh(), (e: unknown) => isGatehouseError(e, "session_ended"));
    assert.deepEqual(attackerEnded, ["refresh_rejected"]);
    assert.equal(attackerStore.load(), null);

    // The session was revoked: the user's next call fails, its refresh is
    // refused, and the client reports the end once.
    await assert.rejects(client.me(), (e: unknown) => isGatehouseError(e, "invalid_token", "session_ended"));
    await assert.rejects(client.accessToken(), (e: unknown) => isGatehouseError(e, "session_ended"));
    assert.deepEqual(ended, ["refresh_rejected"]);
    assert.equal(store.load(), null);
  });

  it("signs out", async () => {
    const ended: SessionEndReason[] = [];
    const store = new MemoryTokenStore();
    const { client } = await signedUp({ store, onSessionEnd: (r) => ended.push(r) });
    const t = store.load();
    assert.ok(t);
    await client.signOut();
    assert.deepEqual(ended, ["signed_out"]);
    const res = await fetch(`${gh.url}/auth/me`, { headers: { Authorization: `Bearer ${t.accessToken}` } });
    assert.equal(res.status, 401);
  });

  it("reaches each function at its own URL when told to", async () => {
    const store = new MemoryTokenStore();
    const { addr } = await signedUp({ store });
    // baseUrl points nowhere: every call must go through functionUrls.
    const client = new Gatehouse({ baseUrl: "http://127.0.0.1:9", functionUrls: { auth: `${gh.url}/auth/` }, mode: "token", store });
    await client.refresh();
    assert.equal((await client.me()).user.email, addr);
  });

  it("steps up with the password", async () => {
    const pw = password();
    const client = new Gatehouse({ baseUrl: gh.url, mode: "token" });
    const addr = email("stepup");
    await client.signUp(addr);
    await client.confirmSignUp(await gh.linkToken(addr, "email_verification"), pw);
    await assert.rejects(client.reauthenticate({ method: "password", password: pw + "x" }), (e: unknown) => isGatehouseError(e, "invalid_credentials"));
    await client.reauthenticate({ method: "password", password: pw });
    const me = await client.me();
    assert.ok(Date.parse(me.session.auth_time) > Date.now() - 60_000);
  });

  it("keeps the session unscoped when an organization token is refused", async () => {
    const store = new MemoryTokenStore();
    const { client } = await signedUp({ store });
    await assert.rejects(client.refresh("org_not_mine"), (e: unknown) => isGatehouseError(e, "forbidden"));
    const info = await client.refresh();
    assert.equal(info.orgId, undefined);
    assert.equal(store.load()?.orgId, undefined);
  });

  it("hands off to the second factor: mfa_required, then a TOTP code or a recovery code", async () => {
    const pw = password();
    const { client, addr } = await (async () => {
      const c = new Gatehouse({ baseUrl: gh.url, mode: "token" });
      const a = email("mfa");
      await c.signUp(a);
      await c.confirmSignUp(await gh.linkToken(a, "email_verification"), pw);
      return { client: c, addr: a };
    })();
    const { data: enrol } = await client.api.POST("/auth/mfa/totp", { body: {} });
    assert.ok(enrol?.secret);
    // Confirm with the previous step's code (within the one step of skew),
    // so the current step's code is still unused for the sign-in.
    const { data: conf, response } = await client.api.POST("/auth/mfa/totp/confirm", { body: { code: totp(enrol.secret, Date.now() - 30_000) } });
    assert.equal(response.status, 200, JSON.stringify(conf));
    const codes = (conf as { recovery_codes: string[] }).recovery_codes;

    const fresh = new Gatehouse({ baseUrl: gh.url, mode: "token" });
    const first = await fresh.signIn(addr, pw);
    assert.equal(first.status, "mfa_required");
    assert.ok(first.status === "mfa_required" && first.methods.includes("totp"));
    const session = await fresh.completeTotp(first.mfaToken, totp(enrol.secret, Date.now()));
    assert.ok(session.sessionId);
    assert.deepEqual((await fresh.me()).session.auth_methods.sort(), ["otp", "pwd"]);

    const again = await fresh.signIn(addr, pw);
    assert.ok(again.status === "mfa_required");
    await fresh.completeRecoveryCode(again.mfaToken, codes[0] ?? "");
    await assert.rejects(
      (async () => {
        const third = await fresh.signIn(addr, pw);
        assert.ok(third.status === "mfa_required");
        await fresh.completeRecoveryCode(third.mfaToken, codes[0] ?? "");
      })(),
      (e: unknown) => e instanceof GatehouseError && e.status === 401,
      "a recovery code works once",
    );
  });
});
