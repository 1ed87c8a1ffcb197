output "state_bucket" {
  description = "Bucket of the environment root's Terraform state."
  value       = google_storage_bucket.state.name
}

output "releases_bucket" {
  description = "Bucket of the CI builds' release artifacts."
  value       = google_storage_bucket.releases.name
}

output "image_repository" {
  description = "Docker repository of the gatehouse image."
  value       = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}/gatehouse"
}

output "deployer" {
  description = "The deployer's e-mail (the environment root grants it actAs on the runtime accounts)."
  value       = google_service_account.deployer.email
}
