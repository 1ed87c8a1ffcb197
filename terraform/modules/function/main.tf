locals {
  # Secrets arrive as references only (CRED-9): the variable holds
  # sm://projects/P/secrets/S/versions/latest and shared/config reads the
  # payload with the function's own identity at start, checking its CRC32C.
  # In staging and prod the loader refuses a secret variable holding
  # anything else, so a Cloud Run secret environment variable (a plain value
  # by the time the process sees it) would stop the function from starting.
  secret_refs = {
    for k, s in var.secret_env : k => "sm://projects/${var.project_id}/secrets/${s}/versions/latest"
  }
  runtime_env = merge(var.env, local.secret_refs)
}

# One Cloud Run function (gen2). The source is the archive that
# terraform/functionsource writes: the Go Functions Framework buildpack
# compiles its root package, which imports all four functions, and the
# function's entry point (GOOGLE_FUNCTION_TARGET at build time,
# FUNCTION_TARGET at run time) selects which one this service runs. The
# buildpack ignores GOOGLE_BUILDABLE for functions, so none is set.
resource "google_cloudfunctions2_function" "this" {
  project     = var.project_id
  location    = var.region
  name        = var.name
  description = "Gatehouse ${var.name}"

  build_config {
    runtime         = var.runtime
    entry_point     = var.entry_point
    service_account = var.build_service_account_id
    environment_variables = {
      GOOGLE_FUNCTION_TARGET = var.entry_point
    }

    source {
      storage_source {
        bucket = var.source_bucket
        object = var.source_object
      }
    }
  }

  service_config {
    service_account_email            = var.service_account_email
    min_instance_count               = var.min_instances
    max_instance_count               = var.max_instances
    max_instance_request_concurrency = var.concurrency
    available_memory                 = var.memory
    available_cpu                    = var.cpu
    timeout_seconds                  = var.timeout_seconds
    ingress_settings                 = var.ingress
    all_traffic_on_latest_revision   = true
    environment_variables            = local.runtime_env
    direct_vpc_egress                = "VPC_EGRESS_PRIVATE_RANGES_ONLY"

    direct_vpc_network_interface {
      network    = var.network
      subnetwork = var.subnetwork
      tags       = var.network_tags
    }
  }

  lifecycle {
    precondition {
      condition     = !(var.public && length(var.invokers) > 0)
      error_message = "A function with named invokers must not be public."
    }
    precondition {
      condition     = length(setintersection(keys(var.env), keys(var.secret_env))) == 0
      error_message = "A variable is either plain (env) or a secret reference (secret_env), not both."
    }
  }
}

# Public routes: anyone may invoke; the function authenticates requests
# itself (sessions, signatures).
resource "google_cloud_run_v2_service_iam_member" "public" {
  count = var.public ? 1 : 0

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.this.name
  role     = "roles/run.invoker"
  member   = "allUsers" #tfsec:ignore:google-iam-no-public-access-granted public HTTP route by design (INFRA-4); request auth is in the function
}

# Private functions: only the named identities (e.g. the Pub/Sub push
# subscription's) may invoke.
resource "google_cloud_run_v2_service_iam_member" "invoker" {
  for_each = var.invokers

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.this.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${each.value}"
}
