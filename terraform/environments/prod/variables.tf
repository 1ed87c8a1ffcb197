variable "project_id" {
  description = "This environment's project."
  type        = string
}

variable "region" {
  description = "Region of every regional resource."
  type        = string
}

variable "auth_domain" {
  description = "Gatehouse's hostname on the app's site, e.g. auth.example.com (https://auth_domain is the public origin)."
  type        = string
}

variable "image" {
  description = "The gatehouse image by digest; set by Cloud Build (REGION-docker.pkg.dev/PROJECT/gatehouse/gatehouse@sha256:...)."
  type        = string
}

variable "source_object" {
  description = "Function source archive in the releases bucket, <commit>/<build>/functions.zip; set by cloudbuild-deploy.yaml from the CI build it deploys."
  type        = string
}

variable "allowed_origins" {
  description = "Browser origins of the app (https://host[:port])."
  type        = list(string)
}

variable "oauth_client_ids" {
  description = "Platform => OAuth client id (google_business_profile, google_ads, linkedin, meta_ads, shopify)."
  type        = map(string)
  default     = {}
}

variable "signin_client_ids" {
  description = "Sign-in provider => OAuth client id (google, github)."
  type        = map(string)
  default     = {}
}

variable "admin_operators" {
  description = "Service accounts allowed to call the admin API (docs/admin.md)."
  type        = list(string)
  default     = []
}

variable "broker_callers" {
  description = "Service accounts allowed to call the token broker."
  type        = list(string)
  default     = []
}

variable "standard_webhook_sources" {
  description = "Standard Webhooks senders, one signing secret each."
  type        = set(string)
  default     = []
}

variable "event_webhook_urls" {
  description = "The SaaS's https endpoints that receive events as Standard Webhooks (docs/events.md); non-empty creates event-webhook-secret for rotate."
  type        = list(string)
  default     = []
}

variable "event_webhook_types" {
  description = "Event kinds the webhook endpoints receive (user.created, ...); empty means every kind."
  type        = list(string)
  default     = []
}

variable "notification_channels" {
  description = "Monitoring notification channel ids; prod requires at least one (terraform/README.md)."
  type        = list(string)
}

variable "waf_mode" {
  description = "Cloud Armor WAF rules: preview (log only) or enforce."
  type        = string
  default     = "enforce"
}

variable "secrets_generation" {
  description = "Raise to roll secrets: a new revision of every function reads each secret's latest version."
  type        = number
  default     = 1
}

variable "db_instance_name" {
  description = "Cloud SQL instance name; empty means gatehouse-<env>. Set to a restored clone's name to cut over (README)."
  type        = string
  default     = ""
}
