output "network_id" {
  description = "Self link of the VPC, for Cloud SQL private_network."
  value       = google_compute_network.vpc.id
}

output "network_name" {
  description = "Name of the VPC, for Direct VPC egress."
  value       = google_compute_network.vpc.name
}

output "subnet_name" {
  description = "Name of the functions subnet, for Direct VPC egress."
  value       = google_compute_subnetwork.functions.name
}

output "function_tag" {
  description = "Network tag the functions must carry for their egress rule to apply."
  value       = var.function_tag
}

output "psa_connection" {
  description = "The Private Service Access peering; Cloud SQL must be created after it."
  value       = google_service_networking_connection.psa.id
}
