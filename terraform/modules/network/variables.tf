variable "project_id" {
  description = "Project that owns the network."
  type        = string
}

variable "region" {
  description = "Region of the subnet the functions egress through."
  type        = string
}

variable "name" {
  description = "Name prefix for the network resources, e.g. gatehouse-prod."
  type        = string
}

variable "subnet_cidr" {
  description = "Primary range of the functions subnet. Direct VPC egress takes addresses from it: size it for about 2x max instances."
  type        = string
}

variable "psa_prefix_length" {
  description = "Prefix length of the range reserved for Private Service Access (Cloud SQL)."
  type        = number
  default     = 20
}

variable "function_tag" {
  description = "Network tag that the functions carry on Direct VPC egress; egress firewall rules target it."
  type        = string
  default     = "gatehouse-fn"
}
