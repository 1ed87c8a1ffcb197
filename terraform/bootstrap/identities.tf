# Two pipeline identities (INFRA-9). gatehouse-ci runs tests, scanners and image
# builds: it can read only the CI database password, push images, write
# release artifacts and logs, and can neither deploy nor read any other
# secret. gatehouse-deployer runs the deploy build: it applies Terraform
# and executes the migration job, manages secrets without reading them,
# and acts as the runtime accounts only (granted per account by the
# environment root), never project-wide.

resource "google_service_account" "ci" {
  project      = var.project_id
  account_id   = "gatehouse-ci"
  display_name = "Gatehouse CI: tests, scanners, image builds"
}

resource "google_service_account" "deployer" {
  project      = var.project_id
  account_id   = "gatehouse-deployer"
  display_name = "Gatehouse deployer: Terraform apply and migrations"
}

resource "google_project_iam_member" "ci_logs" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = local.ci
}

resource "google_artifact_registry_repository_iam_member" "ci_push" {
  project    = var.project_id
  location   = google_artifact_registry_repository.images.location
  repository = google_artifact_registry_repository.images.name
  role       = "roles/artifactregistry.writer"
  member     = local.ci
}

resource "google_storage_bucket_iam_member" "ci_releases" {
  bucket = google_storage_bucket.releases.name
  role   = "roles/storage.objectCreator"
  member = local.ci
}

# The password of the throwaway PostgreSQL the tests start (cloudbuild.yaml
# availableSecrets): generated here into a write-only argument, never in
# state; the only secret gh-ci can read.
resource "google_secret_manager_secret" "ci_postgres" {
  project             = var.project_id
  secret_id           = "ci-postgres-password"
  deletion_protection = true

  replication {
    auto {}
  }

  depends_on = [google_project_service.api]
}

resource "google_secret_manager_secret_version" "ci_postgres" {
  secret                 = google_secret_manager_secret.ci_postgres.id
  secret_data_wo         = replace(uuid(), "-", "")
  secret_data_wo_version = 1
}

resource "google_secret_manager_secret_iam_member" "ci_postgres" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.ci_postgres.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = local.ci
}

# Secret Manager administration without secretmanager.versions.access: the
# deployer creates secrets, versions (the pepper, write-only) and their IAM,
# and cannot read a single value.
resource "google_project_iam_custom_role" "secret_admin_no_access" {
  project     = var.project_id
  role_id     = "gatehouseSecretAdminNoAccess"
  title       = "Gatehouse secret administration without reading values"
  description = "Manage secrets, versions and secret IAM; no secretmanager.versions.access."
  permissions = [
    "secretmanager.locations.get",
    "secretmanager.locations.list",
    "secretmanager.secrets.create",
    "secretmanager.secrets.delete",
    "secretmanager.secrets.get",
    "secretmanager.secrets.getIamPolicy",
    "secretmanager.secrets.list",
    "secretmanager.secrets.setIamPolicy",
    "secretmanager.secrets.update",
    "secretmanager.versions.add",
    "secretmanager.versions.destroy",
    "secretmanager.versions.disable",
    "secretmanager.versions.enable",
    "secretmanager.versions.get",
    "secretmanager.versions.list",
  ]
}

resource "google_project_iam_member" "deployer_secrets" {
  project = var.project_id
  role    = google_project_iam_custom_role.secret_admin_no_access.id
  member  = local.deployer
}

# What applying environments/<env> needs. No roles/iam.serviceAccountUser
# here: actAs is granted on each runtime account by the environment root.
resource "google_project_iam_member" "deployer" {
  for_each = toset([
    "roles/artifactregistry.reader",
    "roles/cloudfunctions.admin",
    "roles/cloudkms.admin",
    "roles/cloudscheduler.admin",
    "roles/cloudsql.admin",
    "roles/compute.loadBalancerAdmin",
    "roles/compute.networkAdmin",
    "roles/compute.securityAdmin",
    "roles/iam.serviceAccountAdmin",
    "roles/logging.admin",
    "roles/logging.logWriter",
    "roles/monitoring.admin",
    "roles/pubsub.admin",
    "roles/resourcemanager.projectIamAdmin",
    "roles/run.admin",
    "roles/servicenetworking.networksAdmin",
    "roles/serviceusage.serviceUsageAdmin",
    "roles/storage.admin",
  ])

  project = var.project_id
  role    = each.key
  member  = local.deployer
}

resource "google_storage_bucket_iam_member" "deployer_releases" {
  bucket = google_storage_bucket.releases.name
  role   = "roles/storage.objectViewer"
  member = local.deployer
}

