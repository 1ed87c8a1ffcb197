# One runtime identity per function (INFRA-4). Each gets only the roles
# below; nothing runs as a default compute or App Engine account.
resource "google_service_account" "auth" {
  project      = var.project_id
  account_id   = "gh-auth"
  display_name = "Gatehouse auth function"

  depends_on = [google_project_service.api]
}

resource "google_service_account" "oauthcallback" {
  project      = var.project_id
  account_id   = "gh-oauthcallback"
  display_name = "Gatehouse oauthcallback function"

  depends_on = [google_project_service.api]
}

resource "google_service_account" "webhooks" {
  project      = var.project_id
  account_id   = "gh-webhooks"
  display_name = "Gatehouse webhooks function"

  depends_on = [google_project_service.api]
}

resource "google_service_account" "rotate" {
  project      = var.project_id
  account_id   = "gh-rotate"
  display_name = "Gatehouse rotate function"

  depends_on = [google_project_service.api]
}

# Identity of the rotation push subscription (scheduler.tf): Pub/Sub signs
# its pushes with an ID token for it, and it may only invoke rotate.
resource "google_service_account" "rotate_trigger" {
  project      = var.project_id
  account_id   = "gh-rotate-trigger"
  display_name = "Gatehouse rotation trigger"

  depends_on = [google_project_service.api]
}

# Identity Cloud Run functions' builds use to build the function images
# from the source archive (not the pipeline's identities: those are in
# terraform/bootstrap).
resource "google_service_account" "build" {
  project      = var.project_id
  account_id   = "gh-function-build"
  display_name = "Gatehouse function builds"

  depends_on = [google_project_service.api]
}

locals {
  function_accounts = {
    auth          = google_service_account.auth
    oauthcallback = google_service_account.oauthcallback
    webhooks      = google_service_account.webhooks
    rotate        = google_service_account.rotate
  }
}

# Every function reaches Cloud SQL through the connector as its IAM user.
resource "google_project_iam_member" "sql_client" {
  for_each = local.function_accounts

  project = var.project_id
  role    = "roles/cloudsql.client"
  member  = "serviceAccount:${each.value.email}"
}

resource "google_project_iam_member" "sql_instance_user" {
  for_each = local.function_accounts

  project = var.project_id
  role    = "roles/cloudsql.instanceUser"
  member  = "serviceAccount:${each.value.email}"
}

# KEK use: only the functions that seal or open (CRED-3, INFRA-3): auth
# (signing keys, refresh-token keys, TOTP secrets), oauthcallback (OAuth
# tokens, state, SSO client secrets) and rotate (new data keys, re-wrap
# after probing the key version with Encrypt). Each needs Encrypt and
# Decrypt. webhooks seals and opens nothing and has no key access.
resource "google_kms_crypto_key_iam_member" "auth" {
  crypto_key_id = module.kms.key_id
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = "serviceAccount:${google_service_account.auth.email}"
}

resource "google_kms_crypto_key_iam_member" "oauthcallback" {
  crypto_key_id = module.kms.key_id
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = "serviceAccount:${google_service_account.oauthcallback.email}"
}

resource "google_kms_crypto_key_iam_member" "rotate" {
  crypto_key_id = module.kms.key_id
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = "serviceAccount:${google_service_account.rotate.email}"
}

# Publishers, per topic, exactly the functions that publish to it:
# notifications: auth (links, alerts) and oauthcallback (new-device alert of
# a social sign-in); billing-events and webhook-events: webhooks (outbox
# relay after each delivery) and rotate (outbox task republishing what the
# relay could not send).
resource "google_pubsub_topic_iam_member" "auth_notifications" {
  project = var.project_id
  topic   = module.pubsub.topic_names["notifications"]
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${google_service_account.auth.email}"
}

resource "google_pubsub_topic_iam_member" "oauthcallback_notifications" {
  project = var.project_id
  topic   = module.pubsub.topic_names["notifications"]
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${google_service_account.oauthcallback.email}"
}

resource "google_pubsub_topic_iam_member" "webhooks_billing" {
  project = var.project_id
  topic   = module.pubsub.topic_names["billing-events"]
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${google_service_account.webhooks.email}"
}

resource "google_pubsub_topic_iam_member" "webhooks_events" {
  project = var.project_id
  topic   = module.pubsub.topic_names["webhook-events"]
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${google_service_account.webhooks.email}"
}

resource "google_pubsub_topic_iam_member" "rotate_billing" {
  project = var.project_id
  topic   = module.pubsub.topic_names["billing-events"]
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${google_service_account.rotate.email}"
}

resource "google_pubsub_topic_iam_member" "rotate_events" {
  project = var.project_id
  topic   = module.pubsub.topic_names["webhook-events"]
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${google_service_account.rotate.email}"
}

# saas-events (docs/events.md): every function writes its events to the
# outbox; only rotate's outbox task publishes them.
resource "google_pubsub_topic_iam_member" "rotate_saas_events" {
  project = var.project_id
  topic   = module.pubsub.topic_names["saas-events"]
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${google_service_account.rotate.email}"
}

# Pub/Sub mints the push subscription's ID tokens for rotate_trigger.
resource "google_service_account_iam_member" "rotate_trigger_token" {
  service_account_id = google_service_account.rotate_trigger.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = module.pubsub.service_agent
}

resource "google_project_iam_member" "build_logs" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = "serviceAccount:${google_service_account.build.email}"
}

resource "google_project_iam_member" "build_images" {
  project = var.project_id
  role    = "roles/artifactregistry.writer"
  member  = "serviceAccount:${google_service_account.build.email}"
}

resource "google_storage_bucket_iam_member" "build_source" {
  bucket = local.releases_bucket
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.build.email}"
}

# The deployer (terraform/bootstrap) holds no project-wide actAs: it may act
# as exactly the accounts this root runs things as, which deploying a
# function, a push subscription with an ID token or the job requires.
resource "google_service_account_iam_member" "deployer_act_as" {
  for_each = merge(local.function_accounts, {
    rotate_trigger = google_service_account.rotate_trigger
    build          = google_service_account.build
    migrator       = google_service_account.migrator
  })

  service_account_id = each.value.name
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${local.deployer}"
}
