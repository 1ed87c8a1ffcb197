output "function_uris" {
  description = "Function name => HTTPS endpoint."
  value = {
    auth          = module.auth.uri
    oauthcallback = module.oauthcallback.uri
    webhooks      = module.webhooks.uri
    rotate        = module.rotate.uri
  }
}

output "db_connection_name" {
  description = "Cloud SQL instance connection name."
  value       = module.database.connection_name
}

output "kms_key_id" {
  description = "KEK resource name."
  value       = module.kms.key_id
}

output "source_bucket" {
  description = "Bucket Cloud Build uploads the zipped source to."
  value       = google_storage_bucket.source.name
}

output "worker_pool" {
  description = "Private Cloud Build worker pool id for cloudbuild.yaml _WORKER_POOL."
  value       = google_cloudbuild_worker_pool.ci.id
}
