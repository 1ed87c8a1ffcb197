locals {
  apis = [
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudkms.googleapis.com",
    "cloudscheduler.googleapis.com",
    "compute.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "servicenetworking.googleapis.com",
    "sqladmin.googleapis.com",
  ]
  name = "gatehouse-${var.env}"
}

resource "google_project_service" "api" {
  for_each = toset(local.apis)

  project            = var.project_id
  service            = each.key
  disable_on_destroy = false
}

module "network" {
  source = "../network"

  project_id  = var.project_id
  region      = var.region
  name        = local.name
  subnet_cidr = var.subnet_cidr

  depends_on = [google_project_service.api]
}

module "database" {
  source = "../database"

  project_id           = var.project_id
  region               = var.region
  instance_name        = local.name
  tier                 = var.db_tier
  max_connections      = var.db_max_connections
  network_id           = module.network.network_id
  iam_service_accounts = { for fn, sa in local.function_accounts : fn => sa.email }

  depends_on = [module.network]
}

module "kms" {
  source = "../kms"

  project_id       = var.project_id
  location         = var.region
  protection_level = var.kms_protection_level

  depends_on = [google_project_service.api]
}

module "pubsub" {
  source = "../pubsub"

  project_id = var.project_id
  topics     = ["notifications", "billing-events", "webhook-events", "rotation"]
  subscriptions = {
    "notifications-delivery"  = "notifications"
    "billing-events-consumer" = "billing-events"
    "webhook-events-consumer" = "webhook-events"
  }

  depends_on = [google_project_service.api]
}

module "observability" {
  source = "../observability"

  project_id            = var.project_id
  function_services     = keys(local.function_accounts)
  notification_channels = var.notification_channels

  depends_on = [google_project_service.api]
}

# The zipped repository root, one object per commit (uploaded by Cloud Build).
resource "google_storage_bucket" "source" {
  project                     = var.project_id
  name                        = "${var.project_id}-gatehouse-source"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      age = 90
    }
    action {
      type = "Delete"
    }
  }
}

# Private Cloud Build pool for this environment's pipeline (cloudbuild.yaml
# _WORKER_POOL). Builds run on workers no other customer shares.
resource "google_cloudbuild_worker_pool" "ci" {
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
