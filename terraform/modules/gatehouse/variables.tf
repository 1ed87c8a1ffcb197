variable "project_id" {
  description = "The environment's own project (INFRA-5: one project per environment)."
  type        = string
}

variable "env" {
  description = "Environment name, passed to the functions as GATEHOUSE_ENV."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.env)
    error_message = "env must be dev, staging or prod."
  }
}

variable "region" {
  description = "Region of every regional resource."
  type        = string
}

variable "subnet_cidr" {
  description = "Functions subnet range; distinct per environment."
  type        = string
}

variable "db_tier" {
  description = "Cloud SQL machine tier."
  type        = string
}

variable "db_max_connections" {
  description = "Postgres max_connections. It must cover two revisions' worth (a rollout) of every function's max instances x its pool size, plus a reserve of 25 for migrations, operators and Cloud SQL (docs/scaling.md)."
  type        = number

  validation {
    condition     = var.db_max_connections >= 2 * sum([for fn, s in var.scaling : s.max * lookup(var.db_pool_sizes, fn, 0)]) + 25
    error_message = "db_max_connections is below 2 x sum(scaling[f].max x db_pool_sizes[f]) + 25: a rollout could exhaust the database's connections."
  }
}

variable "scaling" {
  description = "Per function: instance bounds. Each instance opens at most db_pool_sizes[function] database connections (see docs/scaling.md)."
  type = map(object({
    min = number
    max = number
  }))

  validation {
    condition     = length(setsubtract(["auth", "oauthcallback", "webhooks", "rotate"], keys(var.scaling))) == 0
    error_message = "scaling must have entries for auth, oauthcallback, webhooks and rotate."
  }
}

variable "db_pool_sizes" {
  description = "Per function: PostgreSQL connections one instance opens at most (GATEHOUSE_DB_MAX_CONNS). The connection budget in docs/scaling.md multiplies these by scaling[*].max; the Go test in terraform/tfcheck checks it against db_max_connections."
  type        = map(number)
  default = {
    auth          = 8
    oauthcallback = 8
    webhooks      = 8
    rotate        = 8
  }

  validation {
    condition = (length(setsubtract(["auth", "oauthcallback", "webhooks", "rotate"], keys(var.db_pool_sizes))) == 0 &&
    alltrue([for n in values(var.db_pool_sizes) : n >= 1 && n <= 100 && floor(n) == n]))
    error_message = "db_pool_sizes needs whole numbers from 1 to 100 for auth, oauthcallback, webhooks and rotate."
  }
}

variable "argon2_concurrency" {
  description = "Argon2id hashing slots of one auth instance (GATEHOUSE_PASSWORD_MAX_CONCURRENT); each owns a 19 MiB block array for the instance's life. 2 = one per vCPU: more add memory, not throughput (measured, docs/scaling.md)."
  type        = number
  default     = 2

  validation {
    condition     = var.argon2_concurrency >= 1 && var.argon2_concurrency <= 32
    error_message = "argon2_concurrency must be between 1 and 32."
  }
}

variable "auth_heap_headroom_mib" {
  description = "MiB of Go heap the auth function needs besides the Argon2id slots (runtime, pools, session cache, request bodies); GOMEMLIMIT = argon2_concurrency x 19 MiB + this. 90 gives the measured 128 MiB (peak heap 60 MiB under 200 concurrent sign-ins; docs/scaling.md)."
  type        = number
  default     = 90

  validation {
    condition     = var.auth_heap_headroom_mib >= 64
    error_message = "auth_heap_headroom_mib must be at least 64 (the headroom TestLoginMemoryBound allows)."
  }
}

variable "go_runtime" {
  description = "Cloud Run functions Go runtime id matching the go directive of go.mod."
  type        = string
  default     = "go126"
}

variable "deployer" {
  description = "E-mail of the account that applies this root; empty means the bootstrap's gatehouse-deployer."
  type        = string
  default     = ""
}

variable "source_object" {
  description = "Object in the releases bucket holding the functions' source archive (terraform/functionsource); the CI build writes one per build, <commit>/<build>/functions.zip (cloudbuild.yaml)."
  type        = string
}

variable "auth_domain" {
  description = "The one public hostname of Gatehouse, e.g. auth.example.com, on the same site as the SaaS's app (docs/deploy.md: browser sessions need it). The load balancer answers https://auth_domain; the public URL (GATEHOUSE_PUBLIC_URL, the tokens' issuer), the OAuth callback base and the cookies' origin all follow from it."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.auth_domain))
    error_message = "auth_domain must be a lower-case DNS name such as auth.example.com."
  }
}

variable "load_balancer" {
  description = "Serve the public functions through the global HTTPS load balancer with Cloud Armor (INFRA-8), their Cloud Run ingress then admitting only the load balancer and internal traffic. Only a throwaway project without a domain turns it off, and then browsers cannot use Gatehouse."
  type        = bool
  default     = true
}

variable "waf_mode" {
  description = "Cloud Armor's preconfigured WAF rules: preview (log what they would block, to tune first) or enforce (block with 403)."
  type        = string
  default     = "enforce"

  validation {
    condition     = contains(["preview", "enforce"], var.waf_mode)
    error_message = "waf_mode must be preview or enforce."
  }
}

variable "edge_rate_limits" {
  description = "Cloud Armor bans per client IP (requests per interval above which the address is banned), in front of the functions' own limits. Paths are as browsers call them, under /auth/; at most 5 per entry (Cloud Armor's limit of sub-expressions in one rule)."
  type = map(object({
    paths            = list(string)
    count            = number
    interval_sec     = number
    ban_duration_sec = number
  }))

  validation {
    condition     = alltrue([for r in values(var.edge_rate_limits) : length(r.paths) >= 1 && length(r.paths) <= 5 && r.count >= 1])
    error_message = "each edge_rate_limits entry needs 1 to 5 paths and a count of at least 1."
  }

  default = {
    sign-in    = { paths = ["/auth/login", "/auth/login/totp", "/auth/login/recovery-code", "/auth/login/webauthn", "/auth/register"], count = 60, interval_sec = 60, ban_duration_sec = 600 }
    token      = { paths = ["/auth/token"], count = 300, interval_sec = 60, ban_duration_sec = 300 }
    magic-link = { paths = ["/auth/magic-link", "/auth/magic-link/verify"], count = 20, interval_sec = 60, ban_duration_sec = 900 }
    reset      = { paths = ["/auth/password/reset", "/auth/password/reset/confirm"], count = 20, interval_sec = 60, ban_duration_sec = 900 }
  }
}

variable "image" {
  description = "The gatehouse image (cmd/gatehouse) by digest, REGION-docker.pkg.dev/PROJECT/gatehouse/gatehouse@sha256:...; Cloud Build passes the digest it built and scanned. The migration job runs it."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9.-]+/[^@:]+@sha256:[0-9a-f]{64}$", var.image))
    error_message = "image must be a repository path pinned by digest (...@sha256:<64 hex>)."
  }
}

variable "secrets_generation" {
  description = "Raise it to roll secrets: every function restarts on a new revision and reads each secret's latest version (GATEHOUSE_SECRETS_GENERATION). Add the new secret versions first (README, Rotate a secret)."
  type        = number
  default     = 1

  validation {
    condition     = var.secrets_generation >= 1 && floor(var.secrets_generation) == var.secrets_generation
    error_message = "secrets_generation must be a whole number of at least 1."
  }
}

variable "db_instance_name" {
  description = "Cloud SQL instance name; empty means gatehouse-<env>. Set it to the clone's name when cutting over to a point-in-time restore (README)."
  type        = string
  default     = ""
}

variable "allowed_origins" {
  description = "Browser origins (https://host[:port]) of the app, GATEHOUSE_ALLOWED_ORIGINS: CORS, CSRF Origin checks, WebAuthn origins, e-mailed links and OAuth return URLs."
  type        = list(string)

  validation {
    condition     = length(var.allowed_origins) > 0 && alltrue([for o in var.allowed_origins : can(regex("^https://[a-z0-9.-]+(:[0-9]+)?$", o))])
    error_message = "allowed_origins must list at least one https://host[:port] origin."
  }
}

variable "trusted_proxy_hops" {
  description = "Proxies that append to X-Forwarded-For in front of the public functions (GATEHOUSE_TRUSTED_PROXY_HOPS, always set): 2 behind the load balancer (it and Cloud Run's front end), 1 without it. Tied to load_balancer by validation: a wrong count lets clients choose the address rate limits key on, or puts everyone behind one."
  type        = number
  default     = 2

  validation {
    condition     = var.trusted_proxy_hops == (var.load_balancer ? 2 : 1)
    error_message = "trusted_proxy_hops must be 2 with the load balancer (it and Cloud Run's front end each append to X-Forwarded-For) and 1 without it."
  }
}

variable "oauth_client_ids" {
  description = "Platform => OAuth client id (not secret), GATEHOUSE_OAUTH_<PLATFORM>_CLIENT_ID. Each listed platform gets a client secret in Secret Manager. Platforms: google_business_profile, google_ads, linkedin, meta_ads, shopify (listing shopify also creates the Shopify webhook secret)."
  type        = map(string)
  default     = {}

  validation {
    condition     = length(setsubtract(keys(var.oauth_client_ids), ["google_business_profile", "google_ads", "linkedin", "meta_ads", "shopify"])) == 0
    error_message = "oauth_client_ids keys must be among google_business_profile, google_ads, linkedin, meta_ads, shopify."
  }
}

variable "signin_client_ids" {
  description = "Sign-in provider => OAuth client id, GATEHOUSE_SIGNIN_<PROVIDER>_CLIENT_ID. Each listed provider gets a client secret in Secret Manager. Providers: google, github."
  type        = map(string)
  default     = {}

  validation {
    condition     = length(setsubtract(keys(var.signin_client_ids), ["google", "github"])) == 0
    error_message = "signin_client_ids keys must be among google, github."
  }
}

variable "broker_callers" {
  description = "Service account e-mails allowed to call the token broker (GATEHOUSE_BROKER_ALLOWED_SERVICE_ACCOUNTS) with a Google-signed ID token. Empty: the broker refuses every call."
  type        = list(string)
  default     = []
}

variable "broker_audience" {
  description = "Audience of the broker callers' ID tokens (GATEHOUSE_BROKER_AUDIENCE); empty means https://auth_domain."
  type        = string
  default     = ""
}

variable "admin_operators" {
  description = "Service account e-mails allowed to call the admin API (GATEHOUSE_ADMIN_ACCOUNTS) with a Google-signed ID token. Empty: no operator can call it."
  type        = list(string)
  default     = []
}

variable "admin_audience" {
  description = "Audience of the operators' ID tokens, the admin API's URL (GATEHOUSE_ADMIN_AUDIENCE); empty means https://auth_domain/auth/admin."
  type        = string
  default     = ""
}

variable "standard_webhook_sources" {
  description = "Senders verified with Standard Webhooks (GATEHOUSE_STANDARD_WEBHOOK_SOURCES); each gets its own signing secret."
  type        = set(string)
  default     = []

  validation {
    condition     = alltrue([for s in var.standard_webhook_sources : can(regex("^[a-z0-9][a-z0-9_-]{0,31}$", s))])
    error_message = "standard_webhook_sources names are 1-32 of a-z 0-9 _ - starting with a letter or digit."
  }
}

variable "event_webhook_urls" {
  description = "The SaaS's endpoints that receive every event as a signed Standard Webhook (GATEHOUSE_EVENT_WEBHOOK_URLS, docs/events.md); https only, at most 10. Non-empty creates the event-webhook-secret secret, read by rotate alone, which sends them: add its whsec_ version before applying (README, Rotate a secret)."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.event_webhook_urls) <= 10 && alltrue([for u in var.event_webhook_urls : can(regex("^https://[^/?#@,\\s]+", u)) && !strcontains(u, ",")])
    error_message = "event_webhook_urls are at most 10 https:// URLs without user information or commas."
  }
}

variable "event_webhook_types" {
  description = "Event kinds the webhook endpoints receive (GATEHOUSE_EVENT_WEBHOOK_TYPES, e.g. user.created); empty means every kind."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for k in var.event_webhook_types : can(regex("^[a-z_]+(\\.[a-z_]+)+$", k))])
    error_message = "event_webhook_types are event kinds such as user.created or org.member.added."
  }
}

variable "kms_protection_level" {
  description = "SOFTWARE or HSM for the KEK."
  type        = string
  default     = "SOFTWARE"
}

variable "notification_channels" {
  description = "Monitoring notification channel ids (projects/P/notificationChannels/N) for the alert policies; required in prod, where an alert that pages nobody is no alert."
  type        = list(string)
  default     = []

  validation {
    condition     = var.env != "prod" || length(var.notification_channels) > 0
    error_message = "prod needs at least one notification channel: create one (terraform/README.md) and list it in notification_channels."
  }
}

variable "events_schedule" {
  description = "Cron schedule (UTC) of the events request: the rotate function's outbox task alone, which publishes due events to saas-events and delivers event webhooks. Every one to five minutes; each request is cheap when nothing is due."
  type        = string
  default     = "* * * * *"

  validation {
    condition     = can(regex("^(\\*|\\*/[1-5]) \\* \\* \\* \\*$", var.events_schedule))
    error_message = "events_schedule must fire every one to five minutes: \"* * * * *\" or \"*/N * * * *\" with N from 1 to 5."
  }
}

variable "rotation_schedule" {
  description = "Cron schedule (UTC) of the rotation message. Hourly, as docs/rotate.md recommends: each task acts only when due, so a run that finds nothing due is cheap, and a failed run is retried within the hour."
  type        = string
  default     = "17 * * * *"
}
