locals {
  apis = [
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudkms.googleapis.com",
    "cloudscheduler.googleapis.com",
    "compute.googleapis.com",
    "containerscanning.googleapis.com",
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

  # Created by terraform/bootstrap, before the pipeline's first run.
  releases_bucket = "${var.project_id}-gatehouse-releases"
  deployer        = coalesce(var.deployer, "gatehouse-deployer@${var.project_id}.iam.gserviceaccount.com")
}

# Every resource below waits for the APIs (directly or through a module
# that does), so the first apply of a new project needs no -target.

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
  instance_name        = coalesce(var.db_instance_name, local.name)
  tier                 = var.db_tier
  max_connections      = var.db_max_connections
  network_id           = module.network.network_id
  iam_service_accounts = { for fn, sa in local.function_accounts : fn => sa.email }
  migrator             = google_service_account.migrator.email

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
  topics     = ["notifications", "billing-events", "webhook-events", "saas-events", "rotation"]
  subscriptions = {
    "notifications-delivery"  = "notifications"
    "billing-events-consumer" = "billing-events"
    "webhook-events-consumer" = "webhook-events"
    "saas-events-consumer"    = "saas-events"
  }

  depends_on = [google_project_service.api]
}

module "observability" {
  source = "../observability"

  project_id            = var.project_id
  function_services     = keys(local.function_accounts)
  notification_channels = var.notification_channels
  db_instance           = module.database.instance_name
  db_max_connections    = var.db_max_connections
  dead_letter_holds     = module.pubsub.dead_letter_hold_names

  depends_on = [google_project_service.api]
}

# The one public origin (INFRA-8) in front of the three public functions.
module "loadbalancer" {
  source = "../loadbalancer"
  count  = var.load_balancer ? 1 : 0

  project_id  = var.project_id
  region      = var.region
  name        = local.name
  domain      = var.auth_domain
  waf_mode    = var.waf_mode
  rate_limits = var.edge_rate_limits
  routes = {
    auth     = module.auth.name
    oauth    = module.oauthcallback.name
    webhooks = module.webhooks.name
  }

  depends_on = [google_project_service.api]
}
