output "name" {
  description = "Function (and Cloud Run service) name."
  value       = google_cloudfunctions2_function.this.name
}

output "uri" {
  description = "HTTPS endpoint of the function."
  value       = google_cloudfunctions2_function.this.url
}

output "service_uri" {
  description = "URI of the underlying Cloud Run service (run.app): push endpoint and ID-token audience for private functions."
  value       = google_cloudfunctions2_function.this.service_config[0].uri
}

output "ingress" {
  description = "Ingress setting of the Cloud Run service (who may reach its run.app URL)."
  value       = google_cloudfunctions2_function.this.service_config[0].ingress_settings
}

output "environment" {
  description = "The runtime environment: plain settings and sm:// secret references, never a secret value."
  value       = google_cloudfunctions2_function.this.service_config[0].environment_variables
}

output "memory" {
  description = "Memory per instance."
  value       = google_cloudfunctions2_function.this.service_config[0].available_memory
}
