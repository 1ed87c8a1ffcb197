// Starts a real `gatehouse serve` (the binary `npm test` builds once into
// build/gatehouse) on a free port with its own temporary data directory,
// and reads the links it e-mails from the development mailbox.

import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
/** The repository's root. */
export const repoRoot = resolve(here, "../../..");
/** The gatehouse binary (GATEHOUSE_BIN, else what `npm test` built). */
export const binary = process.env["GATEHOUSE_BIN"] ?? resolve(here, "../build/gatehouse");

/** A loopback TCP port free right now. */
export async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, "127.0.0.1");
  await once(srv, "listening");
  const addr = srv.address();
  srv.close();
  await once(srv, "close");
  if (addr === null || typeof addr === "string") throw new Error("no port");
  return addr.port;
}

export interface Server {
  /** The origin, also the issuer: http://localhost:PORT. */
  url: string;
  stop(): Promise<void>;
  /** The newest link e-mailed to `to` (of kind, when given) after `since` messages, waiting for it to arrive. */
  link(to: string, kind?: string): Promise<string>;
  /** The token in a link's #token= fragment. */
  linkToken(to: string, kind?: string): Promise<string>;
  logs(): string;
}

interface MailMessage {
  to: string;
  kind: string;
  links?: string[];
}

/** Starts gatehouse serve with env added to its environment. */
export async function startGatehouse(env: Record<string, string> = {}): Promise<Server> {
  const dir = await mkdtemp(join(tmpdir(), "gatehouse-ts-"));
  const port = await freePort();
  const url = `http://localhost:${port}`;
  let out = "";
  const proc: ChildProcess = spawn(binary, ["serve"], {
    cwd: dir,
    env: {
      PATH: process.env["PATH"] ?? "",
      HOME: dir,
      PORT: String(port),
      GATEHOUSE_DATA_DIR: dir,
      GATEHOUSE_PUBLIC_URL: url,
      GATEHOUSE_LOG_LEVEL: "warn",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  proc.stdout?.on("data", (b: Buffer) => (out += b.toString()));
  proc.stderr?.on("data", (b: Buffer) => (out += b.toString()));
  const exited = once(proc, "exit");
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`gatehouse serve exited (${proc.exitCode}):\n${out}`);
    try {
      const res = await fetch(`${url}/auth/healthz`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      proc.kill();
      throw new Error(`gatehouse serve did not become healthy:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const messages = async (): Promise<MailMessage[]> => {
    const res = await fetch(`${url}/dev/mailbox`);
    if (!res.ok) throw new Error(`mailbox: ${res.status}`);
    return (await res.json()) as MailMessage[] | null ?? [];
  };
  const link = async (to: string, kind?: string): Promise<string> => {
    for (let i = 0; i < 100; i++) {
      const found = (await messages()).filter((m) => m.to === to && (kind === undefined || m.kind === kind) && m.links?.length).pop();
      if (found?.links?.[0]) return found.links[0];
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no link mailed to ${to}`);
  };
  return {
    url,
    link,
    async linkToken(to, kind) {
      const l = new URL(await link(to, kind));
      const token = new URLSearchParams(l.hash.slice(1)).get("token");
      if (!token) throw new Error(`link without #token=: ${l.toString()}`);
      return token;
    },
    logs: () => out,
    async stop() {
      if (proc.exitCode === null) {
        proc.kill("SIGTERM");
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A password Gatehouse's policy accepts. */
export function password(): string {
  return `tidal-quartz-${Math.random().toString(36).slice(2, 10)}-lantern`;
}

let n = 0;
/** A fresh address (sign-up is limited per address). */
export function email(prefix = "user"): string {
  n++;
  return `${prefix}-${process.pid}-${n}@example.com`;
}
