terraform {
  required_version = ">= 1.11.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "7.21.0"
    }
  }

  # Local state on the first apply (the bucket does not exist yet: a
  # backend_override.tf with backend "local"); then, without the override,
  # `terraform init -migrate-state -backend-config=bucket=<state_bucket>`
  # moves it into the bucket this root creates (docs/deploy.md).
  backend "gcs" {
    prefix = "gatehouse/bootstrap"
  }
}

provider "google" {
  project = var.project_id
  region  = var.region

  default_labels = {
    app = "gatehouse"
    env = var.env
  }
}
