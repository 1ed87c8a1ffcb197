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
