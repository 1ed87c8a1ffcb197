locals {
  network = {
    network    = module.network.network_name
    subnetwork = module.network.subnet_name
    tags       = [module.network.function_tag]
  }
}

# Public: accounts, sign-in, sessions, MFA, organizations. Each of the
# argon2_concurrency hashing slots owns 19 MiB; GOMEMLIMIT and memory are
# the measured values of env.tf (docs/scaling.md).
module "auth" {
  source = "../function"

  name                     = "auth"
  entry_point              = "Auth"
  public                   = true
  ingress                  = local.public_ingress
  service_account_email    = google_service_account.auth.email
  project_id               = var.project_id
  region                   = var.region
  runtime                  = var.go_runtime
  build_service_account_id = google_service_account.build.id
  source_bucket            = local.releases_bucket
  source_object            = var.source_object
  memory                   = "${local.auth_memory_mib}Mi"
  cpu                      = "2"
  concurrency              = 40
  min_instances            = var.scaling["auth"].min
  max_instances            = var.scaling["auth"].max
  network                  = local.network.network
  subnetwork               = local.network.subnetwork
  network_tags             = local.network.tags

  env = merge(local.common_env, local.event_webhook_env, local.browser_env, local.auth_env, local.db_env["auth"])
  secret_env = {
    GATEHOUSE_PASSWORD_PEPPER = google_secret_manager_secret.password_pepper.secret_id
  }

  depends_on = [google_service_account_iam_member.deployer_act_as, google_secret_manager_secret_version.password_pepper]
}

# Public: connect/callback/disconnect for platforms, social and SSO sign-in
# and the token broker (ID-token authenticated).
module "oauthcallback" {
  source = "../function"

  name                     = "oauthcallback"
  entry_point              = "OAuthCallback"
  public                   = true
  ingress                  = local.public_ingress
  service_account_email    = google_service_account.oauthcallback.email
  project_id               = var.project_id
  region                   = var.region
  runtime                  = var.go_runtime
  build_service_account_id = google_service_account.build.id
  source_bucket            = local.releases_bucket
  source_object            = var.source_object
  memory                   = "512Mi"
  cpu                      = "1"
  concurrency              = 80
  min_instances            = var.scaling["oauthcallback"].min
  max_instances            = var.scaling["oauthcallback"].max
  network                  = local.network.network
  subnetwork               = local.network.subnetwork
  network_tags             = local.network.tags

  env = merge(local.common_env, local.event_webhook_env, local.browser_env, local.oauthcallback_env, local.db_env["oauthcallback"])
  secret_env = merge(
    { for p, s in google_secret_manager_secret.oauth_client : "GATEHOUSE_OAUTH_${upper(p)}_CLIENT_SECRET" => s.secret_id },
    { for p, s in google_secret_manager_secret.signin_client : "GATEHOUSE_SIGNIN_${upper(p)}_CLIENT_SECRET" => s.secret_id },
  )

  depends_on = [google_service_account_iam_member.deployer_act_as]
}

# Public: Stripe, Shopify and Standard Webhooks receivers, and the owner's
# billing view. No KMS access: it verifies signatures, stores billing
# metadata and verifies access tokens with the published public keys; it
# seals and opens nothing. Its token signer is verify-only, so it starts on
# an empty database without creating a signing key.
module "webhooks" {
  source = "../function"

  name                     = "webhooks"
  entry_point              = "Webhooks"
  public                   = true
  ingress                  = local.public_ingress
  service_account_email    = google_service_account.webhooks.email
  project_id               = var.project_id
  region                   = var.region
  runtime                  = var.go_runtime
  build_service_account_id = google_service_account.build.id
  source_bucket            = local.releases_bucket
  source_object            = var.source_object
  memory                   = "512Mi"
  cpu                      = "1"
  concurrency              = 80
  min_instances            = var.scaling["webhooks"].min
  max_instances            = var.scaling["webhooks"].max
  network                  = local.network.network
  subnetwork               = local.network.subnetwork
  network_tags             = local.network.tags

  env = merge(local.common_env, local.event_webhook_env, local.browser_env, local.webhooks_env, local.db_env["webhooks"])
  secret_env = merge(
    { GATEHOUSE_STRIPE_WEBHOOK_SECRETS = google_secret_manager_secret.stripe_webhook.secret_id },
    { for s in google_secret_manager_secret.shopify_webhook : "GATEHOUSE_SHOPIFY_API_SECRET" => s.secret_id },
    { for src, s in google_secret_manager_secret.standard_webhook : "GATEHOUSE_STANDARD_WEBHOOK_SECRET_${upper(replace(src, "-", "_"))}" => s.secret_id },
  )

  depends_on = [google_service_account_iam_member.deployer_act_as]
}

# Private: runs each rotation message pushed by the rotation subscription
# (scheduler.tf), with retry and a dead-letter topic; one instance at a
# time (it also takes a lease in the database), two requests at once so
# that the minutely events request is not turned away while a rotation
# run works (a second rotation run finds the lease taken and is retried). It seals and opens (data
# keys, re-encryption, re-wrap after probing the KEK version with Encrypt)
# and republishes outbox messages to billing-events, webhook-events and
# saas-events.
module "rotate" {
  source = "../function"

  name                     = "rotate"
  entry_point              = "Rotate"
  public                   = false
  ingress                  = "ALLOW_INTERNAL_ONLY"
  service_account_email    = google_service_account.rotate.email
  project_id               = var.project_id
  region                   = var.region
  runtime                  = var.go_runtime
  build_service_account_id = google_service_account.build.id
  source_bucket            = local.releases_bucket
  source_object            = var.source_object
  memory                   = "1Gi"
  cpu                      = "1"
  concurrency              = 2
  timeout_seconds          = 540
  min_instances            = var.scaling["rotate"].min
  max_instances            = var.scaling["rotate"].max
  network                  = local.network.network
  subnetwork               = local.network.subnetwork
  network_tags             = local.network.tags

  env        = merge(local.common_env, local.event_webhook_env, local.db_env["rotate"])
  secret_env = { for s in google_secret_manager_secret.event_webhook : "GATEHOUSE_EVENT_WEBHOOK_SECRET" => s.secret_id }
  invokers   = { rotation_push = google_service_account.rotate_trigger.email }

  depends_on = [google_service_account_iam_member.deployer_act_as]
}
