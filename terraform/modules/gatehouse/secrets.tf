# One secret per value, created empty: versions are added out of band
# (README, "Rotate a secret"), so no secret value is ever in Terraform state
# (CRED-9). The function reading a secret gets an sm:// reference to its
# latest version (modules/function) and holds secretAccessor on that secret
# alone: each accessor binding names exactly one secret and one function's
# account, and no secret is shared between functions.

locals {
  accessor = "roles/secretmanager.secretAccessor"
}

# Stripe endpoint signing secrets (GATEHOUSE_STRIPE_WEBHOOK_SECRETS): one
# version holds one whsec_ secret, or two separated by a newline while a
# secret is rolled (HOOK-1).
resource "google_secret_manager_secret" "stripe_webhook" {
  project   = var.project_id
  secret_id = "stripe-webhook-secrets"

  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_iam_member" "stripe_webhook_webhooks" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.stripe_webhook.secret_id
  role      = local.accessor
  member    = "serviceAccount:${google_service_account.webhooks.email}"
}

# The Shopify app's API secret as the webhooks HMAC key
# (GATEHOUSE_SHOPIFY_API_SECRET; two, newline-separated, while rotating).
# The same value is also oauthcallback's Shopify client secret
# (oauth-client-secret-shopify): two secrets, so each function reads only
# its own and the webhook secret can hold both values during a roll.
resource "google_secret_manager_secret" "shopify_webhook" {
  count = local.shopify ? 1 : 0

  project   = var.project_id
  secret_id = "shopify-webhook-secrets"

  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_iam_member" "shopify_webhook_webhooks" {
  count = local.shopify ? 1 : 0

  project   = var.project_id
  secret_id = google_secret_manager_secret.shopify_webhook[0].secret_id
  role      = local.accessor
  member    = "serviceAccount:${google_service_account.webhooks.email}"
}

# Standard Webhooks signing secrets, one per source
# (GATEHOUSE_STANDARD_WEBHOOK_SECRET_<SOURCE>).
resource "google_secret_manager_secret" "standard_webhook" {
  for_each = var.standard_webhook_sources

  project   = var.project_id
  secret_id = "standard-webhook-secret-${each.key}"

  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_iam_member" "standard_webhook_webhooks" {
  for_each = google_secret_manager_secret.standard_webhook

  project   = var.project_id
  secret_id = each.value.secret_id
  role      = local.accessor
  member    = "serviceAccount:${google_service_account.webhooks.email}"
}

# OAuth client secrets of the configured platforms
# (GATEHOUSE_OAUTH_<PLATFORM>_CLIENT_SECRET).
resource "google_secret_manager_secret" "oauth_client" {
  for_each = toset(keys(var.oauth_client_ids))

  project   = var.project_id
  secret_id = "oauth-client-secret-${replace(each.key, "_", "-")}"

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

# Client secrets of the configured sign-in providers
# (GATEHOUSE_SIGNIN_<PROVIDER>_CLIENT_SECRET).
resource "google_secret_manager_secret" "signin_client" {
  for_each = toset(keys(var.signin_client_ids))

  project   = var.project_id
  secret_id = "signin-client-secret-${each.key}"

  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_iam_member" "signin_client_oauthcallback" {
  for_each = google_secret_manager_secret.signin_client

  project   = var.project_id
  secret_id = each.value.secret_id
  role      = local.accessor
  member    = "serviceAccount:${google_service_account.oauthcallback.email}"
}

# The password pepper (GATEHOUSE_PASSWORD_PEPPER), auth only.
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
