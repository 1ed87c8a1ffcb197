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

variable "oauth_client_ids" {
  description = "Platform => OAuth client id."
  type        = map(string)
  default     = {}
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
