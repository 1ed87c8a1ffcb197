# What the pipeline needs before its first run, for one environment: the
# APIs, the Terraform state bucket, the artifact repository and the release
# bucket, the two pipeline identities and their grants, the CI database
# password, and the two triggers. Everything else is the environment root's
# (environments/<env>), applied by the deploy pipeline.

locals {
  apis = [
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "containeranalysis.googleapis.com",
    "iam.googleapis.com",
    "pubsub.googleapis.com",
    "secretmanager.googleapis.com",
    "serviceusage.googleapis.com",
    "storage.googleapis.com",
  ]
  ci       = "serviceAccount:${google_service_account.ci.email}"
  deployer = "serviceAccount:${google_service_account.deployer.email}"
}

resource "google_project_service" "api" {
  for_each = toset(local.apis)

  project            = var.project_id
  service            = each.key
  disable_on_destroy = false
}

# Terraform state of the environment root (environments/<env>/versions.tf)
# and, after the first apply, of this root.
resource "google_storage_bucket" "state" {
  project                     = var.project_id
  name                        = "gatehouse-${var.env}-tfstate"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  versioning {
    enabled = true
  }

  lifecycle {
    prevent_destroy = true
  }

  depends_on = [google_project_service.api]
}

# Release artifacts, one folder per commit the CI build tested: the
# functions' source archive, the Terraform tree and release.env (the image
# digest). CI may create objects but not replace them (objectCreator); the
# deployer and the functions' builds only read.
resource "google_storage_bucket" "releases" {
  project                     = var.project_id
  name                        = "${var.project_id}-gatehouse-releases"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      age = 180
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.api]
}

# The gatehouse image (cmd/gatehouse): tags cannot be moved, images are
# deployed by digest.
resource "google_artifact_registry_repository" "images" {
  project       = var.project_id
  location      = var.region
  repository_id = "gatehouse"
  format        = "DOCKER"
  description   = "Gatehouse images, deployed by digest."

  docker_config {
    immutable_tags = true
  }

  depends_on = [google_project_service.api]
}

# Cloud Build publishes every build's status here; the deploy trigger
# listens for the CI build's success.
resource "google_pubsub_topic" "cloud_builds" {
  project = var.project_id
  name    = "cloud-builds"

  depends_on = [google_project_service.api]
}

# Private Cloud Build pool for both pipelines (options.pool in
# cloudbuild.yaml and cloudbuild-deploy.yaml): workers no other customer
# shares.
resource "google_cloudbuild_worker_pool" "pipeline" {
  project  = var.project_id
  name     = "gatehouse"
  location = var.region

  worker_config {
    machine_type   = "e2-standard-4"
    disk_size_gb   = 100
    no_external_ip = false
  }

  depends_on = [google_project_service.api]
}
