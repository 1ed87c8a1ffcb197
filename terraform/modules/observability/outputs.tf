output "audit_bucket" {
  description = "Id of the locked audit log bucket."
  value       = google_logging_project_bucket_config.audit.id
}
