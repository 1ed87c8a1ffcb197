# What the functions read at start (shared/config LoadBase and each
# function's LoadConfig). Every name here is read by the code: the Go test
# TestTerraformEnvPassesLoadConfig (terraform/tfcheck) builds each
# function's environment from this module, runs the function's own
# configuration loader on it as a deployed instance would, and fails on a
# variable the code does not read or a setting it refuses.

locals {
  # shared/config refuses GATEHOUSE_ENV=dev on Cloud Run, so the dev project
  # runs with the staging rules (Secret Manager, Cloud KMS, PostgreSQL).
  gatehouse_env = var.env == "prod" ? "prod" : "staging"

  # One origin for browsers (docs/deploy.md): the load balancer answers
  # https://auth_domain; the tokens' issuer, the links in e-mails, the
  # OAuth callbacks and the __Host- cookies all live on it.
  public_base_url     = "https://${var.auth_domain}"
  oauth_callback_base = "${local.public_base_url}/oauth"

  # Behind the load balancer the public functions admit only it and
  # internal traffic, and trust the two X-Forwarded-For entries it and
  # Cloud Run's front end append (trusted_proxy_hops, validated against
  # load_balancer). tests/values.tftest.hcl plans both ways.
  public_ingress = var.load_balancer ? "ALLOW_INTERNAL_AND_GCLB" : "ALLOW_ALL"

  # LoadBase requires all of these in staging and prod, for every function:
  # a function that never uses one (rotate and webhooks send no e-mail,
  # webhooks seals nothing) still gets it, but no IAM on it.
  common_env = {
    GATEHOUSE_ENV          = local.gatehouse_env
    GATEHOUSE_PROJECT_ID   = var.project_id
    GATEHOUSE_DB_INSTANCE  = module.database.connection_name
    GATEHOUSE_DB_NAME      = module.database.database_name
    GATEHOUSE_KMS_KEY      = module.kms.key_id
    GATEHOUSE_PUBLIC_URL   = local.public_base_url
    GATEHOUSE_NOTIFY_TOPIC = module.pubsub.topic_ids["notifications"]
    # Every function writes events to the SaaS (docs/events.md) to the
    # outbox; rotate's outbox task publishes them.
    GATEHOUSE_EVENTS_TOPIC = module.pubsub.topic_ids["saas-events"]
    # Raising secrets_generation changes the environment, so every function
    # gets a new revision whose instances read each secret's latest version.
    GATEHOUSE_SECRETS_GENERATION = tostring(var.secrets_generation)
  }

  # Every function also writes one webhook delivery per endpoint with each
  # event (docs/events.md); rotate's outbox task sends them, signed with
  # event-webhook-secret (secrets.tf), which only rotate reads.
  event_webhooks = length(var.event_webhook_urls) > 0
  event_webhook_env = local.event_webhooks ? merge(
    { GATEHOUSE_EVENT_WEBHOOK_URLS = join(",", var.event_webhook_urls) },
    length(var.event_webhook_types) > 0 ? { GATEHOUSE_EVENT_WEBHOOK_TYPES = join(",", var.event_webhook_types) } : {},
  ) : {}

  # Each function connects as its own IAM database user, with its own pool
  # size (the connection budget in docs/scaling.md counts db_pool_sizes).
  db_env = { for fn in ["auth", "oauthcallback", "webhooks", "rotate"] : fn => {
    GATEHOUSE_DB_USER      = module.database.iam_users[fn]
    GATEHOUSE_DB_MAX_CONNS = tostring(var.db_pool_sizes[fn])
  } }

  # The functions browsers call: CORS, CSRF Origin checks, WebAuthn
  # origins, e-mailed links, allowed OAuth return URLs; and the proxies in
  # front of them, which decide the client address that rate limits and
  # lockouts key on.
  browser_env = {
    GATEHOUSE_ALLOWED_ORIGINS    = join(",", var.allowed_origins)
    GATEHOUSE_TRUSTED_PROXY_HOPS = tostring(var.trusted_proxy_hops)
  }

  # Argon2id with m = 19456 KiB works in 19 MiB, and each of the auth
  # function's argon2_concurrency hashing slots owns one such array for the
  # instance's life (GATEHOUSE_PASSWORD_MAX_CONCURRENT): hashing memory is
  # exactly slots x 19 MiB and leaves no garbage. The defaults (2 slots,
  # GOMEMLIMIT 128 MiB, 512 MiB) are measured, not derived: peak Go heap
  # 60 MiB and peak resident memory about 100 MiB under 200 concurrent
  # sign-ins (docs/scaling.md, scripts/load).
  argon2_hash_mib     = 19
  auth_gomemlimit_mib = var.argon2_concurrency * local.argon2_hash_mib + var.auth_heap_headroom_mib
  auth_memory_mib     = max(512, 128 * ceil(2 * local.auth_gomemlimit_mib / 128))

  auth_env = merge(
    {
      GATEHOUSE_PASSWORD_MAX_CONCURRENT = tostring(var.argon2_concurrency)
      GOMEMLIMIT                        = "${local.auth_gomemlimit_mib}MiB"
    },
    # The admin API (docs/admin.md): Google-signed ID tokens of these
    # service accounts, for the admin API's URL; none means no operator.
    length(var.admin_operators) == 0 ? {} : {
      GATEHOUSE_ADMIN_ACCOUNTS = join(",", var.admin_operators)
      GATEHOUSE_ADMIN_AUDIENCE = coalesce(var.admin_audience, "${local.public_base_url}/auth/admin")
    },
  )

  oauthcallback_env = merge(
    { for p, id in var.oauth_client_ids : "GATEHOUSE_OAUTH_${upper(p)}_CLIENT_ID" => id },
    { for p, id in var.signin_client_ids : "GATEHOUSE_SIGNIN_${upper(p)}_CLIENT_ID" => id },
    { GATEHOUSE_OAUTH_CALLBACK_BASE = local.oauth_callback_base },
    # ID-token broker authentication; the shared-secret mode is dev only.
    length(var.broker_callers) == 0 ? {} : {
      GATEHOUSE_BROKER_AUDIENCE                 = coalesce(var.broker_audience, local.public_base_url)
      GATEHOUSE_BROKER_ALLOWED_SERVICE_ACCOUNTS = join(",", var.broker_callers)
    },
  )

  # Stripe events go to billing-events; Shopify and Standard Webhooks events
  # to webhook-events.
  webhooks_env = merge(
    {
      GATEHOUSE_BILLING_TOPIC = module.pubsub.topic_ids["billing-events"]
      GATEHOUSE_WEBHOOK_TOPIC = module.pubsub.topic_ids["webhook-events"]
    },
    length(var.standard_webhook_sources) == 0 ? {} : {
      GATEHOUSE_STANDARD_WEBHOOK_SOURCES = join(",", sort(var.standard_webhook_sources))
    },
  )

  # Shopify webhooks are signed with the Shopify app's secret, so they exist
  # only when the Shopify app is configured.
  shopify = contains(keys(var.oauth_client_ids), "shopify")
}

# The auth function's memory bound (AUTH-1): GOMEMLIMIT covers the hashes
# that may run at once plus the heap headroom TestLoginMemoryBound allows,
# and the instance keeps at least 256 MiB beyond that soft limit. Whoever
# changes the formulas above (the defaults are measured, docs/scaling.md)
# gets a plan error, not an out-of-memory instance.
resource "terraform_data" "auth_memory_bound" {
  input = { gomemlimit_mib = local.auth_gomemlimit_mib, memory_mib = local.auth_memory_mib }

  lifecycle {
    precondition {
      condition     = local.auth_gomemlimit_mib >= var.argon2_concurrency * local.argon2_hash_mib + 64
      error_message = "GOMEMLIMIT is below argon2_concurrency x 19 MiB + 64 MiB of heap headroom."
    }
    precondition {
      condition     = local.auth_memory_mib >= local.auth_gomemlimit_mib + 256
      error_message = "The auth instance memory is below GOMEMLIMIT + 256 MiB for the binary, non-Go memory and overshoot."
    }
  }
}
