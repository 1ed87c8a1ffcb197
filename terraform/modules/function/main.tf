locals {
  secret_refs = {
    for k, s in var.secret_env : k => "sm://projects/${var.project_id}/secrets/${s}/versions/latest"
  }
  runtime_env = merge(
    var.env,
    var.secret_delivery == "reference" ? local.secret_refs : {},
  )
  mounted_secrets = var.secret_delivery == "mount" ? var.secret_env : {}
}

# One Cloud Run function (gen2). The source is the whole repository (one Go
# module); GOOGLE_BUILDABLE selects the package of this function.
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
      GOOGLE_BUILDABLE       = "./functions/${var.name}"
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

    dynamic "secret_environment_variables" {
      for_each = local.mounted_secrets
      content {
        key        = secret_environment_variables.key
        project_id = var.project_id
        secret     = secret_environment_variables.value
        version    = "latest"
      }
    }
  }

  dynamic "event_trigger" {
    for_each = var.event_trigger == null ? [] : [var.event_trigger]
    content {
      trigger_region        = var.region
      event_type            = "google.cloud.pubsub.topic.v1.messagePublished"
      pubsub_topic          = event_trigger.value.topic_id
      retry_policy          = "RETRY_POLICY_RETRY"
      service_account_email = event_trigger.value.service_account_email
    }
  }

  lifecycle {
    precondition {
      condition     = !(var.public && var.event_trigger != null)
      error_message = "An event-triggered function must not be public."
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

# Event functions: only the trigger's identity may invoke.
resource "google_cloud_run_v2_service_iam_member" "trigger" {
  count = var.event_trigger == null ? 0 : 1

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.this.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${var.event_trigger.service_account_email}"
}
