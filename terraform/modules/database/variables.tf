variable "project_id" {
  description = "Project that owns the instance."
  type        = string
}

variable "region" {
  description = "Region of the instance; the standby is in another zone of it."
  type        = string
}

variable "instance_name" {
  description = "Cloud SQL instance name. A deleted name cannot be reused for about a week."
  type        = string
}

variable "tier" {
  description = "Machine tier, e.g. db-custom-2-7680. docs/scaling.md sizes it against max_connections."
  type        = string
}

variable "max_connections" {
  description = "Postgres max_connections. Must cover sum(max instances x pool size) of all functions plus the reserve (docs/scaling.md)."
  type        = number
}

variable "network_id" {
  description = "VPC self link that holds the Private Service Access peering."
  type        = string
}

variable "database_name" {
  description = "Application database."
  type        = string
  default     = "gatehouse"
}

variable "iam_service_accounts" {
  description = "Function name => service account email; each becomes an IAM database user."
  type        = map(string)
}

variable "migrator" {
  description = "Service account email of the migration job; its IAM database user gets cloudsqlsuperuser."
  type        = string
}
