module "gatehouse" {
  source = "../../modules/gatehouse"

  project_id               = var.project_id
  env                      = "staging"
  region                   = var.region
  subnet_cidr              = "10.20.0.0/22"
  db_tier                  = "db-custom-2-7680"
  db_max_connections       = 400
  kms_protection_level     = "SOFTWARE"
  auth_domain              = var.auth_domain
  image                    = var.image
  waf_mode                 = var.waf_mode
  secrets_generation       = var.secrets_generation
  db_instance_name         = var.db_instance_name
  allowed_origins          = var.allowed_origins
  source_object            = var.source_object
  oauth_client_ids         = var.oauth_client_ids
  signin_client_ids        = var.signin_client_ids
  broker_callers           = var.broker_callers
  admin_operators          = var.admin_operators
  standard_webhook_sources = var.standard_webhook_sources
  event_webhook_urls       = var.event_webhook_urls
  event_webhook_types      = var.event_webhook_types
  notification_channels    = var.notification_channels

  # Connection budget (docs/scaling.md): every instance opens at most 8
  # connections, so 2 x 8 x sum(max), for the two revisions of a rollout,
  # plus a reserve of 25 must fit db_max_connections. The Go test in
  # terraform/tfcheck checks it.
  scaling = {
    auth          = { min = 0, max = 10 }
    oauthcallback = { min = 0, max = 5 }
    webhooks      = { min = 0, max = 5 }
    rotate        = { min = 0, max = 1 }
  }
}
