// Unit tests of the client's pure parts: error decoding, base64url, the
// WebAuthn option conversions, and the step-up retry (against a local
// HTTP server that plays the route needing a recent sign-in).

import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";
import { describe, it } from "node:test";
import { creationOptionsFromJSON, fromBase64url, Gatehouse, GatehouseError, isGatehouseError, MemoryTokenStore, requestOptionsFromJSON, toBase64url } from "../src/index.js";

describe("errors", () => {
  it("reads Gatehouse's error shape, RFC 6749's, and anything else", () => {
    const e = GatehouseError.fromBody(400, { error: { code: "invalid_request", message: "The request is invalid.", fields: { email: "must be an e-mail address", n: 3 } } });
    assert.equal(e.code, "invalid_request");
    assert.deepEqual(e.fields, { email: "must be an e-mail address" });
    assert.ok(isGatehouseError(e, "invalid_request", "forbidden"));
    assert.ok(!isGatehouseError(e, "forbidden"));
    assert.equal(GatehouseError.fromBody(401, { error: "invalid_client", error_description: "bad" }).code, "invalid_client");
    for (const body of [undefined, "text", [1], { error: 5 }]) assert.equal(GatehouseError.fromBody(502, body).code, "unexpected_response");
  });
});

describe("base64url", () => {
  it("round-trips every byte and reads padded input", () => {
    const all = new Uint8Array(256).map((_, i) => i);
    const s = toBase64url(all);
    assert.doesNotMatch(s, /[+/=]/);
    assert.deepEqual(new Uint8Array(fromBase64url(s)), all);
    assert.deepEqual(new Uint8Array(fromBase64url("AQI=")), new Uint8Array([1, 2]));
    assert.equal(toBase64url(new Uint8Array([0xfb, 0xff])), "-_8");
  });
  it("converts WebAuthn options' binary fields and refuses incomplete ones", () => {
    const c = creationOptionsFromJSON({ challenge: "AQID", rp: { id: "localhost", name: "x" }, user: { id: "BAU", name: "a", displayName: "a" },
      pubKeyCredParams: [{ type: "public-key", alg: -7 }], excludeCredentials: [{ type: "public-key", id: "Bg" }] });
    assert.deepEqual(new Uint8Array(c.challenge as ArrayBuffer), new Uint8Array([1, 2, 3]));
    assert.deepEqual(new Uint8Array(c.user.id as ArrayBuffer), new Uint8Array([4, 5]));
    assert.deepEqual(new Uint8Array(c.excludeCredentials?.[0]?.id as ArrayBuffer), new Uint8Array([6]));
    const r = requestOptionsFromJSON({ challenge: "AQID", allowCredentials: [{ type: "public-key", id: "Bw" }] });
    assert.deepEqual(new Uint8Array(r.allowCredentials?.[0]?.id as ArrayBuffer), new Uint8Array([7]));
    assert.throws(() => requestOptionsFromJSON({}), TypeError);
    assert.throws(() => creationOptionsFromJSON({ challenge: "AQID" }), TypeError);
  });
});

describe("step-up", () => {
  it("asks the app for a proof on reauthentication_required, steps up, and retries once", async () => {
    const seen: string[] = [];
    let recent = false;
    const srv = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? ""} ${body}`);
        res.setHeader("Content-Type", "application/json");
        if (req.url === "/auth/reauthenticate") {
          recent = JSON.parse(body).password === "pw";
          res.statusCode = recent ? 204 : 401;
          res.end(recent ? undefined : JSON.stringify({ error: { code: "invalid_credentials", message: "no" } }));
          return;
        }
        res.statusCode = recent ? 204 : 403;
        res.end(recent ? undefined : JSON.stringify({ error: { code: "reauthentication_required", message: "again" } }));
      });
    });
    srv.listen(0, "127.0.0.1");
    await once(srv, "listening");
    const addr = srv.address();
    assert.ok(addr && typeof addr === "object");
    try {
      const store = new MemoryTokenStore();
      store.save({ accessToken: "at", refreshToken: "rt", expiresAt: Date.now() + 600_000, sessionId: "s", userId: "u" });
      let asked = 0;
      const gh = new Gatehouse({ baseUrl: `http://127.0.0.1:${addr.port}`, mode: "token", store,
        onStepUpRequired: async () => (++asked, { method: "password", password: "pw" }) });
      const { response } = await gh.api.POST("/auth/password/change", { body: { password: "new-password-123" } });
      assert.equal(response.status, 204);
      assert.equal(asked, 1);
      assert.deepEqual(seen.map((s) => s.split(" ").slice(0, 3).join(" ")), [
        "POST /auth/password/change Bearer",
        "POST /auth/reauthenticate Bearer",
        "POST /auth/password/change Bearer",
      ]);
      assert.match(seen[2] ?? "", /new-password-123/, "the retry carries the body again");

      recent = false;
      const declined = new Gatehouse({ baseUrl: `http://127.0.0.1:${addr.port}`, mode: "token", store, onStepUpRequired: async () => null });
      assert.equal((await declined.api.POST("/auth/password/change", { body: { password: "x" } })).response.status, 403);
    } finally {
      srv.close();
    }
  });
});
