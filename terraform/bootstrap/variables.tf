variable "project_id" {
  description = "The environment's project (one per environment, INFRA-5)."
  type        = string
}

variable "region" {
  description = "Region of the artifact repository, the release bucket and the triggers."
  type        = string
}

variable "env" {
  description = "dev, staging or prod."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.env)
    error_message = "env must be dev, staging or prod."
  }
}

variable "repository" {
  description = "Cloud Build repository (2nd gen) of the Gatehouse source: projects/P/locations/R/connections/C/repositories/N. Connecting GitHub to Cloud Build is an authorization Google asks a person to give (terraform/README.md)."
  type        = string
}

variable "branch" {
  description = "Branch whose pushes this environment deploys."
  type        = string
  default     = "main"
}
