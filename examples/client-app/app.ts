// A minimal app on the Gatehouse TypeScript client: it signs a user in
// (token mode), asks Gatehouse for an organization-scoped access token,
// and calls the SaaS's own backend (examples/backend, which verifies the
// token with the Go verify package). The client refreshes and retries on
// its own.
//
//	go run ./cmd/gatehouse serve &                      # :8080
//	ISSUER=http://localhost:8080 go run ./examples/backend &   # :9090
//	cd clients/typescript && npm ci
//	EMAIL=you@example.com PASSWORD='...' node --import tsx ../../examples/client-app/app.ts
//
// An app of your own imports "@gatehouse/client" (npm install
// path/to/clients/typescript); this one imports the source so it runs in
// the repository as it is.

import { Gatehouse, isGatehouseError } from "../../clients/typescript/src/index.js";

export interface AppConfig {
  gatehouseUrl: string;
  backendUrl: string;
  email: string;
  password: string;
}

export interface AppResult {
  hello: { user: string; session: string };
  org: string;
  reports: { org: string; role: string; reports: string[] };
}

/** Signs in, makes sure the user has an organization, and reads the backend as a member of it. */
export async function run(cfg: AppConfig): Promise<AppResult> {
  const gh = new Gatehouse({ baseUrl: cfg.gatehouseUrl, mode: "token" });
  const signIn = await gh.signIn(cfg.email, cfg.password);
  if (signIn.status === "mfa_required") throw new Error(`second factor needed (${signIn.methods.join(", ")}): not handled by this example`);

  // Who am I, according to the backend (a plain access token).
  const hello = await json<AppResult["hello"]>(await gh.fetch(`${cfg.backendUrl}/hello`));

  // The user's first organization, or a new one.
  const { data: list } = await gh.api.GET("/auth/orgs");
  let org = list?.orgs[0]?.id;
  if (!org) {
    const { data, error, response } = await gh.api.POST("/auth/orgs", { body: { name: "Example Org" } });
    if (!data) throw new Error(`create organization: ${response.status} ${JSON.stringify(error)}`);
    org = data.id;
  }

  // An organization-scoped token carries the role and permissions the backend checks.
  await gh.refresh(org);
  const reports = await json<AppResult["reports"]>(await gh.fetch(`${cfg.backendUrl}/orgs/${org}/reports`));
  await gh.signOut();
  return { hello, org, reports };
}

async function json<T>(res: Response): Promise<T> {
  if (!res.ok) throw new Error(`${res.url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const env = (k: string, d?: string): string => {
    const v = process.env[k] ?? d;
    if (v === undefined) throw new Error(`set ${k}`);
    return v;
  };
  run({ gatehouseUrl: env("GATEHOUSE_URL", "http://localhost:8080"), backendUrl: env("BACKEND_URL", "http://localhost:9090"),
    email: env("EMAIL"), password: env("PASSWORD") }).then(
    (r) => console.log(JSON.stringify(r, null, 2)),
    (e: unknown) => {
      console.error(isGatehouseError(e) ? `${e.code}: ${e.message}` : e);
      process.exitCode = 1;
    },
  );
}
