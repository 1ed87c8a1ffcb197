locals {
  network = {
    network    = module.network.network_name
    subnetwork = module.network.subnet_name
    tags       = [module.network.function_tag]
  }
  common_env = {
    GATEHOUSE_ENV         = var.env
    GATEHOUSE_PROJECT     = var.project_id
    GATEHOUSE_DB_INSTANCE = module.database.connection_name
    GATEHOUSE_DB_NAME     = module.database.database_name
  }
  oauth_client_id_env = {
    for p, id in var.oauth_client_ids : "GATEHOUSE_OAUTH_${upper(p)}_CLIENT_ID" => id
  }
}

# Public: accounts, sign-in, sessions. Argon2id needs 19 MiB per hash and
# the semaphore allows argon2_concurrency hashes at once, so memory and CPU
# are sized for that (docs/scaling.md).
module "auth" {
  source = "../function"

  name                     = "auth"
  entry_point              = "Auth"
  public                   = true
  ingress                  = "ALLOW_ALL"
  service_account_email    = google_service_account.auth.email
  project_id               = var.project_id
  region                   = var.region
  runtime                  = var.go_runtime
  build_service_account_id = google_service_account.build.id
  source_bucket            = google_storage_bucket.source.name
  source_object            = var.source_object
  memory                   = "1Gi"
  cpu                      = "2"
  concurrency              = 40
  min_instances            = var.scaling["auth"].min
  max_instances            = var.scaling["auth"].max
  network                  = local.network.network
  subnetwork               = local.network.subnetwork
  network_tags             = local.network.tags
  secret_delivery          = var.secret_delivery

  env = merge(local.common_env, {
    GATEHOUSE_DB_USER               = module.database.iam_users["auth"]
    GATEHOUSE_DB_MAX_CONNS          = tostring(var.scaling["auth"].pool)
    GATEHOUSE_KMS_KEY               = module.kms.key_id
    GATEHOUSE_NOTIFY_TOPIC          = module.pubsub.topic_ids["notifications"]
    GATEHOUSE_PUBLIC_URL            = var.public_base_url
    GATEHOUSE_ARGON2_MAX_CONCURRENT = tostring(var.argon2_concurrency)
  })
  secret_env = {
    GATEHOUSE_PASSWORD_PEPPER = google_secret_manager_secret.password_pepper.secret_id
  }
}

# Public: connect/callback/disconnect for platforms, social sign-in and the
# internal token broker.
module "oauthcallback" {
  source = "../function"

  name                     = "oauthcallback"
  entry_point              = "OAuthCallback"
  public                   = true
  ingress                  = "ALLOW_ALL"
  service_account_email    = google_service_account.oauthcallback.email
  project_id               = var.project_id
  region                   = var.region
  runtime                  = var.go_runtime
  build_service_account_id = google_service_account.build.id
  source_bucket            = google_storage_bucket.source.name
  source_object            = var.source_object
  memory                   = "512Mi"
  cpu                      = "1"
  concurrency              = 80
  min_instances            = var.scaling["oauthcallback"].min
  max_instances            = var.scaling["oauthcallback"].max
  network                  = local.network.network
  subnetwork               = local.network.subnetwork
  network_tags             = local.network.tags
  secret_delivery          = var.secret_delivery

  env = merge(local.common_env, local.oauth_client_id_env, {
    GATEHOUSE_DB_USER      = module.database.iam_users["oauthcallback"]
    GATEHOUSE_DB_MAX_CONNS = tostring(var.scaling["oauthcallback"].pool)
    GATEHOUSE_KMS_KEY      = module.kms.key_id
    GATEHOUSE_PUBLIC_URL   = var.public_base_url
  })
  secret_env = merge(
    { for p, s in google_secret_manager_secret.oauth_client : "GATEHOUSE_OAUTH_${upper(p)}_CLIENT_SECRET" => s.secret_id },
    {
      GATEHOUSE_SHOPIFY_APP_SECRET  = google_secret_manager_secret.shopify_app.secret_id
      GATEHOUSE_TOKEN_BROKER_SECRET = google_secret_manager_secret.token_broker.secret_id
    },
  )
}

# Public: Stripe, Shopify and Standard Webhooks receivers. No KMS access:
# it verifies signatures and stores billing metadata only.
module "webhooks" {
  source = "../function"

  name                     = "webhooks"
  entry_point              = "Webhooks"
  public                   = true
  ingress                  = "ALLOW_ALL"
  service_account_email    = google_service_account.webhooks.email
  project_id               = var.project_id
  region                   = var.region
  runtime                  = var.go_runtime
  build_service_account_id = google_service_account.build.id
  source_bucket            = google_storage_bucket.source.name
  source_object            = var.source_object
  memory                   = "512Mi"
  cpu                      = "1"
  concurrency              = 80
  min_instances            = var.scaling["webhooks"].min
  max_instances            = var.scaling["webhooks"].max
  network                  = local.network.network
  subnetwork               = local.network.subnetwork
  network_tags             = local.network.tags
  secret_delivery          = var.secret_delivery

  env = merge(local.common_env, {
    GATEHOUSE_DB_USER       = module.database.iam_users["webhooks"]
    GATEHOUSE_DB_MAX_CONNS  = tostring(var.scaling["webhooks"].pool)
    GATEHOUSE_BILLING_TOPIC = module.pubsub.topic_ids["billing-events"]
  })
  secret_env = merge(
    { for n, s in google_secret_manager_secret.stripe_webhook : "GATEHOUSE_STRIPE_WEBHOOK_SECRET_${n}" => s.secret_id },
    { for src, s in google_secret_manager_secret.standard_webhooks : "GATEHOUSE_STANDARD_WEBHOOKS_SECRET_${upper(replace(src, "-", "_"))}" => s.secret_id },
    { GATEHOUSE_SHOPIFY_APP_SECRET = google_secret_manager_secret.shopify_app.secret_id },
  )
}

# Private: runs on the daily rotation message, with retry; one instance at a
# time (it also takes a lease in the database).
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
  source_bucket            = google_storage_bucket.source.name
  source_object            = var.source_object
  memory                   = "1Gi"
  cpu                      = "1"
  concurrency              = 1
  timeout_seconds          = 540
  min_instances            = var.scaling["rotate"].min
  max_instances            = var.scaling["rotate"].max
  network                  = local.network.network
  subnetwork               = local.network.subnetwork
  network_tags             = local.network.tags
  secret_delivery          = var.secret_delivery

  env = merge(local.common_env, {
    GATEHOUSE_DB_USER      = module.database.iam_users["rotate"]
    GATEHOUSE_DB_MAX_CONNS = tostring(var.scaling["rotate"].pool)
    GATEHOUSE_KMS_KEY      = module.kms.key_id
  })

  event_trigger = {
    topic_id              = module.pubsub.topic_ids["rotation"]
    service_account_email = google_service_account.rotate_trigger.email
  }

  depends_on = [google_project_iam_member.rotate_trigger_receiver]
}
