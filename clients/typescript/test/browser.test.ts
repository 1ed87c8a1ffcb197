// The browser bundle in headless Chromium (Debian's chromium, driven by
// puppeteer-core; no browser is downloaded) against a real `gatehouse
// serve`: the session manager signs up and in with cookies, sends the
// CSRF header on state-changing calls, refreshes with the refresh cookie,
// registers a passkey and signs in with it (Chromium's virtual
// authenticator), and signs out.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { createServer, type Server as HTTPServer } from "node:http";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { email, freePort, password, startGatehouse, type Server } from "./harness.js";

/** Debian's chromium, or CHROMIUM_PATH. */
function chromiumPath(): string {
  if (process.env["CHROMIUM_PATH"]) return process.env["CHROMIUM_PATH"];
  for (const name of ["chromium", "chromium-browser"]) {
    try {
      return execFileSync("sh", ["-c", `command -v ${name}`]).toString().trim();
    } catch {
      // try the next
    }
  }
  throw new Error("chromium is not installed (apt-get install chromium), or set CHROMIUM_PATH");
}

let gh: Server;
let app: HTTPServer;
let appOrigin: string;
let browser: Browser;
let page: Page;

before(async () => {
  const bundle = await build({
    entryPoints: [fileURLToPath(new URL("../src/index.ts", import.meta.url))],
    bundle: true,
    format: "iife",
    globalName: "GatehouseClient",
    platform: "browser",
    target: "es2022",
    write: false,
  });
  const js = bundle.outputFiles[0]?.text ?? "";
  const port = await freePort();
  appOrigin = `http://localhost:${port}`;
  app = createServer((req, res) => {
    if (req.url === "/echo-csrf") {
      res.end(req.headers["x-csrf-token"] ?? "");
      return;
    }
    if (req.url === "/client.js") {
      res.setHeader("Content-Type", "text/javascript");
      res.end(js);
      return;
    }
    res.setHeader("Content-Type", "text/html");
    res.end('<!doctype html><meta charset="utf-8"><title>app</title><script src="/client.js"></script>');
  });
  app.listen(port, "127.0.0.1");
  await once(app, "listening");
  gh = await startGatehouse({ GATEHOUSE_ALLOWED_ORIGINS: appOrigin });
  browser = await puppeteer.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
  });
  page = await browser.newPage();
  await page.goto(appOrigin + "/");
  await page.evaluate((baseUrl) => {
    const w = window as unknown as { gh: unknown; GatehouseClient: typeof import("../src/index.js") };
    w.gh = new w.GatehouseClient.Gatehouse({ baseUrl, mode: "browser" });
  }, gh.url);
});

after(async () => {
  await browser?.close();
  app?.close();
  await gh?.stop();
});

type Client = import("../src/index.js").Gatehouse;
/** Runs fn in the page with its Gatehouse client. */
function inPage<A extends unknown[], R>(fn: (gh: Client, ...args: A) => Promise<R>, ...args: A): Promise<R> {
  return page.evaluate(
    (src: string, ...a: unknown[]) => {
      const f = (0, eval)(`(${src})`) as (gh: unknown, ...a: unknown[]) => Promise<unknown>;
      return f((window as unknown as { gh: unknown }).gh, ...a);
    },
    fn.toString(),
    ...args,
  ) as Promise<R>;
}

describe("browser mode in Chromium", () => {
  const addr = email("browser");

  it("signs up with cookies only: no token reaches the page, the CSRF cookie does", async () => {
    await inPage((c, a) => c.signUp(a), addr);
    const token = await gh.linkToken(addr, "email_verification");
    const info = await inPage((c, t, pw) => c.confirmSignUp(t, pw), token, password());
    assert.ok(info.userId);
    const cookies = await page.evaluate(() => document.cookie);
    assert.match(cookies, /__Host-gatehouse-csrf=/);
    assert.doesNotMatch(cookies, /gatehouse-access|gatehouse-refresh/, "HttpOnly cookies are not readable");
    const me = await inPage((c) => c.me());
    assert.equal(me.user.email, addr);
  });

  it("sends the CSRF header on state-changing calls (and without it the server refuses)", async () => {
    const created = await inPage(async (c) => {
      const { data, response } = await c.api.POST("/auth/orgs", { body: { name: "Browser Org" } });
      return { status: response.status, id: data?.id };
    });
    assert.equal(created.status, 201);
    const bare = await page.evaluate(async (base) => {
      const res = await fetch(base + "/auth/orgs", { method: "POST", credentials: "include",
        headers: { "Content-Type": "application/json" }, body: JSON.stringify({ name: "No CSRF" }) });
      return { status: res.status, body: await res.text() };
    }, gh.url);
    assert.equal(bare.status, 403);
    assert.match(bare.body, /csrf_failed/);

    const scoped = await inPage((c, org) => c.refresh(org), created.id ?? "");
    assert.equal(scoped.orgId, created.id);
  });

  it("sends the CSRF value to Gatehouse and the page's origin only", async () => {
    // Another origin (say, an analytics endpoint) that would accept the header.
    const other = createServer((req, res) => {
      res.setHeader("Access-Control-Allow-Origin", appOrigin);
      res.setHeader("Access-Control-Allow-Credentials", "true");
      res.setHeader("Access-Control-Allow-Headers", "content-type, x-csrf-token");
      res.end(req.method === "OPTIONS" ? "" : (req.headers["x-csrf-token"] ?? ""));
    });
    other.listen(0, "127.0.0.1");
    await once(other, "listening");
    const addr = other.address();
    assert.ok(addr && typeof addr === "object");
    try {
      const got = await inPage(async (c, own, foreign) => {
        const a = await (await c.fetch(own, { method: "POST" })).text();
        const b = await (await c.fetch(foreign, { method: "POST" })).text();
        return [a, b];
      }, appOrigin + "/echo-csrf", `http://127.0.0.1:${addr.port}/echo-csrf`);
      assert.ok((got[0] ?? "").length > 10, "the page's own origin gets the CSRF value");
      assert.equal(got[1], "", "another origin does not");
    } finally {
      other.close();
    }
  });

  it("refreshes with the refresh cookie, once for concurrent calls", async () => {
    const r = await inPage(async (c) => {
      // (No named functions in page code: tsx would wrap them in a helper the page lacks.)
      const before = performance.getEntriesByType("resource").filter((e) => e.name.endsWith("/auth/token")).length;
      const infos = await Promise.all([c.refresh(), c.refresh(), c.refresh()]);
      const total = performance.getEntriesByType("resource").filter((e) => e.name.endsWith("/auth/token")).length;
      return { sessions: new Set(infos.map((i) => i.sessionId)).size, requests: total - before };
    });
    assert.deepEqual(r, { sessions: 1, requests: 1 });
    assert.equal((await inPage((c) => c.me())).user.email, addr);
  });

  it("refreshes once across tabs, and before the access token expires", async () => {
    const tab2 = await browser.newPage();
    try {
      await tab2.goto(appOrigin + "/");
      const run = (p: Page, margin: number) =>
        p.evaluate(async (baseUrl, margin) => {
          const w = window as unknown as { GatehouseClient: typeof import("../src/index.js") };
          const c = new w.GatehouseClient.Gatehouse({ baseUrl, mode: "browser", refreshMarginSeconds: margin });
          const info = await c.refresh();
          return { sessionId: info.sessionId, requests: performance.getEntriesByType("resource").filter((e) => e.name.endsWith("/auth/token")).length };
        }, gh.url, margin);
      const before = await page.evaluate(() => performance.getEntriesByType("resource").filter((e) => e.name.endsWith("/auth/token")).length);
      const [a, b] = await Promise.all([run(page, 30), run(tab2, 30)]);
      const after = await page.evaluate(() => performance.getEntriesByType("resource").filter((e) => e.name.endsWith("/auth/token")).length);
      assert.equal(a.sessionId, b.sessionId);
      assert.equal(after - before + b.requests, 1, "one refresh request between the two tabs");

      // A margin as long as the token's life: every call refreshes first.
      const early = await tab2.evaluate(async (baseUrl) => {
        const w = window as unknown as { GatehouseClient: typeof import("../src/index.js") };
        const c = new w.GatehouseClient.Gatehouse({ baseUrl, mode: "browser", refreshMarginSeconds: 600 });
        await c.refresh();
        const n0 = performance.getEntriesByType("resource").filter((e) => e.name.endsWith("/auth/token")).length;
        await c.me();
        return performance.getEntriesByType("resource").filter((e) => e.name.endsWith("/auth/token")).length - n0;
      }, gh.url);
      assert.equal(early, 1);
    } finally {
      await tab2.close();
    }
  });

  it("registers a passkey and signs in with it", async () => {
    const cdp = await page.createCDPSession();
    await cdp.send("WebAuthn.enable");
    await cdp.send("WebAuthn.addVirtualAuthenticator", {
      options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    });
    const cred = await inPage((c) => c.registerPasskey());
    assert.ok(cred.id);
    await inPage((c) => c.signOut());
    await assert.rejects(inPage((c) => c.me()));
    const info = await inPage((c) => c.signInWithPasskey());
    assert.ok(info.sessionId);
    const me = await inPage((c) => c.me());
    assert.equal(me.user.email, addr);
    assert.ok(me.session.auth_methods.includes("hwk"), `amr ${me.session.auth_methods.join(",")}`);
  });

  it("signs out: cookies cleared, calls refused", async () => {
    await inPage((c) => c.signOut());
    const err = await inPage(async (c) => {
      try {
        await c.me();
        return "no error";
      } catch (e) {
        return (e as { code: string }).code;
      }
    });
    assert.ok(["unauthenticated", "session_ended"].includes(err), err);
  });
});
