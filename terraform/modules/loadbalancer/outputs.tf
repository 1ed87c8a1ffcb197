output "address" {
  description = "The load balancer's global IPv4 address: the A record of domain."
  value       = google_compute_global_address.lb.address
}

output "url" {
  description = "https://domain: the public origin (GATEHOUSE_PUBLIC_URL)."
  value       = "https://${var.domain}"
}

output "security_policy" {
  description = "Name of the Cloud Armor policy on every backend service."
  value       = google_compute_security_policy.edge.name
}
