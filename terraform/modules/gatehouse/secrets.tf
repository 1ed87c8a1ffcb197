# One secret per value, created empty: versions are added out of band
# (README, "Rotate a secret"), so no secret value is ever in Terraform state
# (CRED-9). Each accessor binding names exactly one function's account.

locals {
  accessor = "roles/secretmanager.secretAccessor"
}

# Two Stripe endpoint signing secrets, so a roll verifies with both (HOOK-1).
resource "google_secret_manager_secret" "stripe_webhook" {
  for_each = toset(["1", "2"])

  project   = var.project_id
  secret_id = "stripe-webhook-secret-${each.key}"

  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_iam_member" "stripe_webhook_webhooks" {
  for_each = google_secret_manager_secret.stripe_webhook

  project   = var.project_id
  secret_id = each.value.secret_id
  role      = local.accessor
  member    = "serviceAccount:${google_service_account.webhooks.email}"
}

# The Shopify app secret is both the OAuth client secret (oauthcallback) and
# the webhook HMAC key (webhooks): one value, one reader binding per function.
resource "google_secret_manager_secret" "shopify_app" {
  project   = var.project_id
  secret_id = "shopify-app-secret"

  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_iam_member" "shopify_app_oauthcallback" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.shopify_app.secret_id
  role      = local.accessor
  member    = "serviceAccount:${google_service_account.oauthcallback.email}"
}

resource "google_secret_manager_secret_iam_member" "shopify_app_webhooks" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.shopify_app.secret_id
  role      = local.accessor
  member    = "serviceAccount:${google_service_account.webhooks.email}"
}

resource "google_secret_manager_secret" "standard_webhooks" {
  for_each = var.standard_webhook_sources

  project   = var.project_id
  secret_id = "standard-webhooks-secret-${each.key}"

  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_iam_member" "standard_webhooks_webhooks" {
  for_each = google_secret_manager_secret.standard_webhooks

  project   = var.project_id
  secret_id = each.value.secret_id
  role      = local.accessor
  member    = "serviceAccount:${google_service_account.webhooks.email}"
}

# OAuth client secrets of the platforms other than Shopify (see above).
resource "google_secret_manager_secret" "oauth_client" {
  for_each = toset(["google", "linkedin", "meta", "github"])

  project   = var.project_id
  secret_id = "oauth-client-secret-${each.key}"

  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_iam_member" "oauth_client_oauthcallback" {
  for_each = google_secret_manager_secret.oauth_client

  project   = var.project_id
  secret_id = each.value.secret_id
  role      = local.accessor
  member    = "serviceAccount:${google_service_account.oauthcallback.email}"
}

resource "google_secret_manager_secret" "password_pepper" {
  project   = var.project_id
  secret_id = "password-pepper"

  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_iam_member" "password_pepper_auth" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.password_pepper.secret_id
  role      = local.accessor
  member    = "serviceAccount:${google_service_account.auth.email}"
}

resource "google_secret_manager_secret" "token_broker" {
  project   = var.project_id
  secret_id = "token-broker-secret"

  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_iam_member" "token_broker_oauthcallback" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.token_broker.secret_id
  role      = local.accessor
  member    = "serviceAccount:${google_service_account.oauthcallback.email}"
}
