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

output "load_balancer_address" {
  description = "Global IPv4 address of the load balancer: the A record of auth_domain."
  value       = var.load_balancer ? module.loadbalancer[0].address : null
}

output "migrate_job" {
  description = "Cloud Run job that migrates the schema (executed by the pipeline before each apply)."
  value       = google_cloud_run_v2_job.migrate.name
}
