# Write-protected store for audit and security logs (INFRA-7, AUDIT-3):
# once locked, the retention can be neither shortened nor removed, and the
# bucket cannot be deleted while it holds logs younger than the retention.
resource "google_logging_project_bucket_config" "audit" {
  project        = var.project_id
  location       = var.log_bucket_location
  bucket_id      = "gatehouse-audit"
  description    = "Gatehouse audit and security logs, 365 days, locked."
  retention_days = 365
  locked         = true

  lifecycle {
    prevent_destroy = true
  }
}

locals {
  services_filter = join(" OR ", [for s in var.function_services : "\"${s}\""])
}

# Cloud Audit Logs (admin activity, data access on KMS and Secret Manager,
# policy denied) and, from the functions, every audit event (shared/audit
# writes each one also as a JSON log line with "log_type":"audit", action,
# outcome, actor, org_id, audit_id and leaf_hash, and the sequencer each
# signed checkpoint with "action":"audit.checkpoint") and every entry at
# WARNING or above (refused requests, failed dependencies, security warnings).
resource "google_logging_project_sink" "audit" {
  project                = var.project_id
  name                   = "gatehouse-audit"
  destination            = "logging.googleapis.com/${google_logging_project_bucket_config.audit.id}"
  unique_writer_identity = true
  filter                 = <<-EOT
    logName:"cloudaudit.googleapis.com"
    OR (resource.type="cloud_run_revision"
        AND resource.labels.service_name=(${local.services_filter})
        AND (jsonPayload.log_type="audit" OR severity>=WARNING))
  EOT
}

# Data access audit logs for the services that hold key material: who
# decrypted with the KEK, who read which secret.
resource "google_project_iam_audit_config" "kms" {
  project = var.project_id
  service = "cloudkms.googleapis.com"

  audit_log_config {
    log_type = "DATA_READ"
  }
  audit_log_config {
    log_type = "DATA_WRITE"
  }
}

resource "google_project_iam_audit_config" "secretmanager" {
  project = var.project_id
  service = "secretmanager.googleapis.com"

  audit_log_config {
    log_type = "DATA_READ"
  }
}
