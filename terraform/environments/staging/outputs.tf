output "function_uris" {
  description = "Function name => HTTPS endpoint."
  value       = module.gatehouse.function_uris
}

output "db_connection_name" {
  description = "Cloud SQL instance connection name."
  value       = module.gatehouse.db_connection_name
}

output "source_bucket" {
  description = "Bucket for the zipped source."
  value       = module.gatehouse.source_bucket
}

output "worker_pool" {
  description = "Private worker pool for cloudbuild.yaml."
  value       = module.gatehouse.worker_pool
}
