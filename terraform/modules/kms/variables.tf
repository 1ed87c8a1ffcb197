variable "project_id" {
  description = "Project that owns the key ring."
  type        = string
}

variable "location" {
  description = "KMS location; the functions' region, so KMS calls stay regional."
  type        = string
}

variable "key_ring_name" {
  description = "Key ring name. Key rings and keys cannot be deleted, only their versions destroyed."
  type        = string
  default     = "gatehouse"
}

variable "protection_level" {
  description = "SOFTWARE or HSM."
  type        = string
  default     = "SOFTWARE"

  validation {
    condition     = contains(["SOFTWARE", "HSM"], var.protection_level)
    error_message = "protection_level must be SOFTWARE or HSM."
  }
}
