variable "project_id" {
  description = "This environment's project."
  type        = string
}

variable "region" {
  description = "Region of every regional resource."
  type        = string
}

variable "public_base_url" {
  description = "Public origin of the API."
  type        = string
}

variable "source_object" {
  description = "Zipped repository root in the source bucket; set by Cloud Build (gatehouse-<commit>.zip)."
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

variable "notification_channels" {
  description = "Monitoring notification channel ids."
  type        = list(string)
  default     = []
}
