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
  description = "Postgres max_connections; see docs/scaling.md for the budget it must cover."
  type        = number
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

variable "source_object" {
  description = "Object in the source bucket holding the zipped repository root; Cloud Build uploads one per commit."
  type        = string
}

variable "public_base_url" {
  description = "Public origin of the API (GATEHOUSE_PUBLIC_URL, https), e.g. https://auth.example.com. Every function gets the same value: it is the issuer of the access tokens they all verify."
  type        = string

  validation {
    condition     = startswith(var.public_base_url, "https://")
    error_message = "public_base_url must be an https URL."
  }
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
  description = "Proxies that append to X-Forwarded-For in front of the public functions (GATEHOUSE_TRUSTED_PROXY_HOPS): 1 for Cloud Run's front end alone, 2 when public_base_url is served through a Google Cloud load balancer. Wrong, every client shares one address for rate limits and lockouts, or clients choose their own."
  type        = number
  default     = 1

  validation {
    condition     = var.trusted_proxy_hops >= 1 && var.trusted_proxy_hops <= 10
    error_message = "trusted_proxy_hops must be between 1 and 10."
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

variable "oauth_callback_base" {
  description = "Public URL of the oauthcallback function (GATEHOUSE_OAUTH_CALLBACK_BASE); empty means public_base_url + /oauth."
  type        = string
  default     = ""
}

variable "broker_callers" {
  description = "Service account e-mails allowed to call the token broker (GATEHOUSE_BROKER_ALLOWED_SERVICE_ACCOUNTS) with a Google-signed ID token. Empty: the broker refuses every call."
  type        = list(string)
  default     = []
}

variable "broker_audience" {
  description = "Audience of the broker callers' ID tokens (GATEHOUSE_BROKER_AUDIENCE); empty means public_base_url."
  type        = string
  default     = ""
}

variable "admin_operators" {
  description = "Service account e-mails allowed to call the admin API (GATEHOUSE_ADMIN_ACCOUNTS) with a Google-signed ID token. Empty: no operator can call it."
  type        = list(string)
  default     = []
}

variable "admin_audience" {
  description = "Audience of the operators' ID tokens, the admin API's URL (GATEHOUSE_ADMIN_AUDIENCE); empty means public_base_url + /auth/admin."
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

variable "kms_protection_level" {
  description = "SOFTWARE or HSM for the KEK."
  type        = string
  default     = "SOFTWARE"
}

variable "notification_channels" {
  description = "Monitoring notification channel ids for the alert policies."
  type        = list(string)
  default     = []
}

variable "rotation_schedule" {
  description = "Cron schedule (UTC) of the rotation message. Hourly, as docs/rotate.md recommends: each task acts only when due, so a run that finds nothing due is cheap, and a failed run is retried within the hour."
  type        = string
  default     = "17 * * * *"
}
