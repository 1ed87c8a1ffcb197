terraform {
  required_version = ">= 1.11.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "7.21.0"
    }
  }

  # State of this environment only, in a bucket of its own project
  # (INFRA-5). Created by the bootstrap in terraform/README.md.
  backend "gcs" {
    bucket = "gatehouse-prod-tfstate"
    prefix = "gatehouse/prod"
  }
}

provider "google" {
  project = var.project_id
  region  = var.region

  default_labels = {
    app = "gatehouse"
    env = "prod"
  }
}
