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
  description = "Per function: instance bounds and database pool size per instance (GATEHOUSE_DB_MAX_CONNS)."
  type = map(object({
    min  = number
    max  = number
    pool = number
  }))

  validation {
    condition     = length(setsubtract(["auth", "oauthcallback", "webhooks", "rotate"], keys(var.scaling))) == 0
    error_message = "scaling must have entries for auth, oauthcallback, webhooks and rotate."
  }
}

variable "argon2_concurrency" {
  description = "Argon2id hashes one auth instance runs at once (GATEHOUSE_ARGON2_MAX_CONCURRENT); each takes 19 MiB."
  type        = number
  default     = 4
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
  description = "Public origin of the API (GATEHOUSE_PUBLIC_URL), e.g. https://auth.example.com."
  type        = string
}

variable "oauth_client_ids" {
  description = "Platform => OAuth client id (not secret). Platforms: google, linkedin, meta, github, shopify."
  type        = map(string)
  default     = {}
}

variable "standard_webhook_sources" {
  description = "Senders verified with Standard Webhooks; each gets its own signing secret."
  type        = set(string)
  default     = []
}

variable "secret_delivery" {
  description = "mount (secret environment variables) or reference (sm:// references read by the function); see README."
  type        = string
  default     = "mount"
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
  description = "Cron schedule (UTC) of the daily rotation message."
  type        = string
  default     = "17 3 * * *"
}
