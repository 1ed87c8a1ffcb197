variable "project_id" {
  description = "Project whose logs and metrics are watched."
  type        = string
}

variable "log_bucket_location" {
  description = "Location of the audit log bucket (global or a region)."
  type        = string
  default     = "global"
}

variable "function_services" {
  description = "Cloud Run service names of the functions whose logs and metrics are watched."
  type        = list(string)
}

variable "notification_channels" {
  description = "Monitoring notification channel ids (created out of band, e.g. the on-call pager)."
  type        = list(string)
  default     = []
}

variable "auth_failure_log_filter" {
  description = "Log filter matching one failed sign-in of the auth function: the audit line of a refused password (action auth.login) or second factor (auth.mfa), outcome failure."
  type        = string
  default     = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"auth\" AND jsonPayload.log_type=\"audit\" AND jsonPayload.action=(\"auth.login\" OR \"auth.mfa\") AND jsonPayload.outcome=\"failure\""
}

variable "auth_failure_threshold" {
  description = "Failed sign-ins per minute, sustained 5 minutes, that page."
  type        = number
  default     = 60
}

variable "latency_threshold_ms" {
  description = "p99 request latency in ms, sustained 10 minutes, that pages. Sign-in hashes with Argon2id, so keep it above one hash under load."
  type        = number
  default     = 2000
}

variable "db_instance" {
  description = "Cloud SQL instance name, for the database alerts and dashboard."
  type        = string
}

variable "db_max_connections" {
  description = "The instance's max_connections; the connections alert fires at db_connection_alert_ratio of it."
  type        = number
}

variable "db_connection_alert_ratio" {
  description = "Share of max_connections in use, sustained 5 minutes, that pages."
  type        = number
  default     = 0.8
}

variable "dead_letter_holds" {
  description = "Subscriptions that hold dead-lettered messages (rotation's and every consumer's): any message there pages."
  type        = list(string)
}

variable "error_ratio_threshold" {
  description = "Share of a function's responses that are 5xx, sustained 5 minutes, that pages."
  type        = number
  default     = 0.02
}
