output "function_uris" {
  description = "Function name => HTTPS endpoint."
  value       = module.gatehouse.function_uris
}

output "db_connection_name" {
  description = "Cloud SQL instance connection name."
  value       = module.gatehouse.db_connection_name
}

output "load_balancer_address" {
  description = "Point the A record of auth_domain here; the managed certificate is issued once it resolves."
  value       = module.gatehouse.load_balancer_address
}
