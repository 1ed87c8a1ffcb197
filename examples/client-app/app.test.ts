// The example app end to end: a real `gatehouse serve`, the real example
// backend (Go, verify package) and the app on the TypeScript client.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Gatehouse } from "../../clients/typescript/src/index.js";
import { email, freePort, password, startGatehouse, type Server } from "../../clients/typescript/test/harness.js";
import { run } from "./app.js";

const backendBin = process.env["EXAMPLE_BACKEND_BIN"] ?? fileURLToPath(new URL("../../clients/typescript/build/example-backend", import.meta.url));

let gh: Server;
let backendUrl: string;
let stopBackend: () => void = () => {};

before(async () => {
  gh = await startGatehouse();
  const port = await freePort();
  backendUrl = `http://127.0.0.1:${port}`;
  const proc = spawn(backendBin, [], { env: { PATH: process.env["PATH"] ?? "", ISSUER: gh.url, PORT: String(port) }, stdio: "ignore" });
  stopBackend = () => proc.kill();
  let failed: Error | undefined;
  proc.on("error", (e) => (failed = e));
  for (let i = 0; ; i++) {
    if (failed) throw new Error(`start ${backendBin}: ${failed.message} (npm test builds it first)`);
    try {
      const res = await fetch(`${backendUrl}/hello`);
      if (res.status === 401) break; // up, and refusing the anonymous
    } catch {
      if (i > 200) throw new Error("the example backend did not start");
    }
    await new Promise((r) => setTimeout(r, 50));
  }
});
after(async () => {
  stopBackend();
  await gh?.stop();
});

it("signs in, gets an organization token and reads the backend with it", async () => {
  const addr = email("example");
  const pw = password();
  const signup = new Gatehouse({ baseUrl: gh.url, mode: "token" });
  await signup.signUp(addr);
  const { userId } = await signup.confirmSignUp(await gh.linkToken(addr, "email_verification"), pw);

  const r = await run({ gatehouseUrl: gh.url, backendUrl, email: addr, password: pw });
  assert.equal(r.hello.user, userId);
  assert.equal(r.reports.org, r.org);
  assert.equal(r.reports.role, "owner");
  assert.deepEqual(r.reports.reports, ["weekly", "monthly"]);

  // The backend refuses an unscoped token for the organization's reports.
  const res = await fetch(`${backendUrl}/orgs/${r.org}/reports`, { headers: { Authorization: `Bearer ${await (async () => {
    const c = new Gatehouse({ baseUrl: gh.url, mode: "token" });
    await c.signIn(addr, pw);
    return c.accessToken();
  })()}` } });
  assert.equal(res.status, 403);
});
