package tfcheck

// mutation breaks one rule in a copy of the tree: replace old with new in
// file (or append new when old is empty) and expect rule to fire.
type mutation struct {
	name, file, old, new, rule string
}

const (
	networkTF   = "modules/network/main.tf"
	databaseTF  = "modules/database/main.tf"
	kmsTF       = "modules/kms/main.tf"
	functionTF  = "modules/function/main.tf"
	functionsTF = "modules/gatehouse/functions.tf"
	accountsTF  = "modules/gatehouse/service_accounts.tf"
	secretsTF   = "modules/gatehouse/secrets.tf"
	envTF       = "modules/gatehouse/env.tf"
	schedulerTF = "modules/gatehouse/scheduler.tf"
)

func mutations() []mutation {
	return append(append(infraMutations(), iamMutations()...), opsMutations()...)
}

func infraMutations() []mutation {
	return []mutation{
		{"auto mode network", networkTF, "auto_create_subnetworks = false", "auto_create_subnetworks = true", "network-custom-mode"},
		{"no deny-all ingress", networkTF, `source_ranges = ["0.0.0.0/0"]`, `source_ranges = ["10.0.0.0/8"]`, "firewall-default-deny-ingress"},
		{"ingress allowed from anywhere", networkTF, "", `resource "google_compute_firewall" "ssh" {
  network       = "x"
  source_ranges = ["0.0.0.0/0"]
  allow {
    protocol = "tcp"
  }
}`, "firewall-default-deny-ingress"},
		{"no private service access", networkTF, `= "servicenetworking.googleapis.com"`, `= "sqladmin.googleapis.com"`, "private-service-access"},
		{"egress through all traffic", functionTF, `"VPC_EGRESS_PRIVATE_RANGES_ONLY"`, `"VPC_EGRESS_ALL_TRAFFIC"`, "function-private-egress"},
		{"public IPv4 on Cloud SQL", databaseTF, "ipv4_enabled    = false", "ipv4_enabled    = true", "sql-private-ip-only"},
		{"public IPv4 from a variable", databaseTF, "ipv4_enabled    = false", "ipv4_enabled    = var.public", "sql-private-ip-only"},
		{"TLS optional", databaseTF, `"TRUSTED_CLIENT_CERTIFICATE_REQUIRED"`, `"ALLOW_UNENCRYPTED_AND_ENCRYPTED"`, "sql-private-ip-only"},
		{"IAM auth off", databaseTF, "\"cloudsql.iam_authentication\"\n      value = \"on\"", "\"cloudsql.iam_authentication\"\n      value = \"off\"", "sql-iam-auth"},
		{"built-in user", databaseTF, `type     = "CLOUD_IAM_SERVICE_ACCOUNT"`, `type     = "BUILT_IN"`, "sql-no-password-user"},
		{"password in state", databaseTF, `type     = "CLOUD_IAM_SERVICE_ACCOUNT"`, "type     = \"CLOUD_IAM_SERVICE_ACCOUNT\"\n  password = \"hunter2\"", "sql-no-password-user"},
		{"zonal instance", databaseTF, `"REGIONAL"`, `"ZONAL"`, "sql-regional-ha"},
		{"PITR off", databaseTF, "point_in_time_recovery_enabled = true", "point_in_time_recovery_enabled = false", "sql-backups-pitr"},
		{"7 backups", databaseTF, "retained_backups = 30", "retained_backups = 7", "sql-backups-pitr"},
		{"3 days of logs", databaseTF, "transaction_log_retention_days = 7", "transaction_log_retention_days = 3", "sql-backups-pitr"},
		{"backups off", databaseTF, "      enabled                        = true", "      enabled                        = false", "sql-backups-pitr"},
		{"no Terraform deletion protection", databaseTF, "deletion_protection = true", "deletion_protection = false", "sql-deletion-protection"},
		{"no API deletion protection", databaseTF, "deletion_protection_enabled = true", "deletion_protection_enabled = false", "sql-deletion-protection"},
		{"temp files not logged", databaseTF, "\"log_temp_files\"\n      value = \"0\"", "\"log_temp_files\"\n      value = \"-1\"", "sql-logging-flags"},
		{"statements logged", databaseTF, "\"log_min_duration_statement\"\n      value = \"-1\"", "\"log_min_duration_statement\"\n      value = \"0\"", "sql-logging-flags"},
		{"yearly rotation", kmsTF, `"7776000s"`, `"31536000s"`, "kms-rotation-period"},
		{"key ring destroyable", kmsTF, "location = var.location\n\n  lifecycle {\n    prevent_destroy = true", "location = var.location\n\n  lifecycle {\n    prevent_destroy = false", "kms-prevent-destroy"},
		{"webhooks may decrypt", accountsTF, "", `resource "google_kms_crypto_key_iam_member" "webhooks" {
  crypto_key_id = module.kms.key_id
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = "serviceAccount:${google_service_account.webhooks.email}"
}`, "kms-key-users"},
		{"project-wide KMS", accountsTF, `role    = "roles/cloudsql.client"`, `role    = "roles/cloudkms.cryptoKeyDecrypter"`, "kms-key-users"},
	}
}

func iamMutations() []mutation {
	return []mutation{
		{"rotate shares an account", functionsTF, "service_account_email    = google_service_account.rotate.email", "service_account_email    = google_service_account.webhooks.email", "one-service-account-per-function"},
		{"build as a runtime account", functionsTF, "name                     = \"rotate\"\n  entry_point              = \"Rotate\"\n  public                   = false\n  ingress                  = \"ALLOW_INTERNAL_ONLY\"\n  service_account_email    = google_service_account.rotate.email\n  project_id               = var.project_id\n  region                   = var.region\n  runtime                  = var.go_runtime\n  build_service_account_id = google_service_account.build.id", "name                     = \"rotate\"\n  entry_point              = \"Rotate\"\n  public                   = false\n  ingress                  = \"ALLOW_INTERNAL_ONLY\"\n  service_account_email    = google_service_account.rotate.email\n  project_id               = var.project_id\n  region                   = var.region\n  runtime                  = var.go_runtime\n  build_service_account_id = google_service_account.auth.id", "one-service-account-per-function"},
		{"editor role", accountsTF, `role    = "roles/cloudsql.client"`, `role    = "roles/editor"`, "no-primitive-roles"},
		{"user principal", accountsTF, "", `resource "google_project_iam_member" "alice" {
  project = var.project_id
  role    = "roles/cloudsql.client"
  member  = "user:alice@example.com"
}`, "no-user-principals"},
		{"default compute account", accountsTF, "", `locals {
  legacy = "123456789-compute@developer.gserviceaccount.com"
}`, "no-default-service-accounts"},
		{"build identity unset", functionTF, "service_account = var.build_service_account_id", "", "no-default-service-accounts"},
		{"rotate public", functionsTF, "public                   = false", "public                   = true", "public-invoker-only-public-routes"},
		{"rotate ingress open", functionsTF, `ingress                  = "ALLOW_INTERNAL_ONLY"`, `ingress                  = "ALLOW_ALL"`, "public-invoker-only-public-routes"},
		{"allUsers on a secret", secretsTF, "", `resource "google_secret_manager_secret_iam_member" "open" {
  secret_id = google_secret_manager_secret.password_pepper.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "allUsers"
}`, "public-invoker-only-public-routes"},
		{"pepper readable by oauthcallback", secretsTF, "member    = \"serviceAccount:${google_service_account.auth.email}\"", "member    = \"serviceAccount:${google_service_account.oauthcallback.email}\"", "secret-accessor-per-function"},
		{"stripe reader that does not use it", functionsTF, "    { GATEHOUSE_STRIPE_WEBHOOK_SECRETS = google_secret_manager_secret.stripe_webhook.secret_id },\n", "", "secret-accessor-per-function"},
		{"shared secret", secretsTF, "", `resource "google_secret_manager_secret_iam_member" "stripe_rotate" {
  secret_id = google_secret_manager_secret.stripe_webhook.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.rotate.email}"
}`, "secret-accessor-per-function"},
		{"project-wide secret access", accountsTF, `role    = "roles/cloudsql.client"`, `role    = "roles/secretmanager.secretAccessor"`, "secret-accessor-per-function"},
		{"secret value in state", secretsTF, "", `resource "google_secret_manager_secret_version" "pepper" {
  secret      = google_secret_manager_secret.password_pepper.id
  secret_data = "not-a-real-pepper"
}`, "secrets-not-in-state"},
		{"secret without deletion protection", secretsTF, "secret_id = \"stripe-webhook-secrets\"\n\n  deletion_protection = true", "secret_id = \"stripe-webhook-secrets\"\n\n  deletion_protection = false", "secret-deletion-protection"},
		{"destroyable pepper", secretsTF, "secret_id = \"password-pepper\"\n\n  deletion_protection = true\n\n  replication {\n    auto {}\n  }\n\n  lifecycle {\n    prevent_destroy = true", "secret_id = \"password-pepper\"\n\n  deletion_protection = true\n\n  replication {\n    auto {}\n  }\n\n  lifecycle {\n    prevent_destroy = false", "secret-deletion-protection"},
		{"backend without Cloud Armor", "modules/loadbalancer/main.tf", "  security_policy       = google_compute_security_policy.edge.id\n", "", "edge-policy"},
		{"no SQL injection rules", "modules/loadbalancer/armor.tf", `waf_rules   = ["sqli", `, `waf_rules   = [`, "edge-policy"},
		{"no rate bans", "modules/loadbalancer/armor.tf", `action      = "rate_based_ban"`, `action      = "throttle"`, "edge-policy"},
		{"CI reads a runtime secret", "bootstrap/identities.tf", "secret_id = google_secret_manager_secret.ci_postgres.secret_id\n  role      = \"roles/secretmanager.secretAccessor\"", "secret_id = \"password-pepper\"\n  role      = \"roles/secretmanager.secretAccessor\"", "pipeline-identities"},
		{"CI may deploy", "bootstrap/identities.tf", "role    = \"roles/logging.logWriter\"\n  member  = local.ci", "role    = \"roles/run.admin\"\n  member  = local.ci", "pipeline-identities"},
		{"deployer reads secrets", "bootstrap/identities.tf", "    \"secretmanager.versions.add\",\n", "    \"secretmanager.versions.access\",\n    \"secretmanager.versions.add\",\n", "pipeline-identities"},
		{"deployer acts as anyone", "bootstrap/identities.tf", "    \"roles/iam.serviceAccountAdmin\",\n", "    \"roles/iam.serviceAccountAdmin\",\n    \"roles/iam.serviceAccountUser\",\n", "pipeline-identities"},
		{"prod deploys unapproved", "bootstrap/triggers.tf", "approval_required = var.env == \"prod\"", "approval_required = false", "pipeline-identities"},
		{"secret in plain env", envTF, "GOMEMLIMIT                        =", "GATEHOUSE_PASSWORD_PEPPER = \"x\"\n    GOMEMLIMIT =", "no-secrets-in-plain-env"},
		{"secret in plain env from a for expression", envTF, `"GATEHOUSE_OAUTH_${upper(p)}_CLIENT_ID" => id`, `"GATEHOUSE_OAUTH_${upper(p)}_CLIENT_SECRET" => id`, "no-secrets-in-plain-env"},
		{"secret mounted by Cloud Run", functionTF, "    direct_vpc_egress                = \"VPC_EGRESS_PRIVATE_RANGES_ONLY\"\n", `    direct_vpc_egress                = "VPC_EGRESS_PRIVATE_RANGES_ONLY"

    dynamic "secret_environment_variables" {
      for_each = var.secret_env
      content {
        key        = secret_environment_variables.key
        project_id = var.project_id
        secret     = secret_environment_variables.value
        version    = "latest"
      }
    }
`, "secret-delivery-reference"},
		{"secret references dropped", functionTF, "runtime_env = merge(var.env, local.secret_refs)", "runtime_env = var.env", "secret-delivery-reference"},
		{"secret pinned to a version", functionTF, "secrets/${s}/versions/latest", "secrets/${s}/versions/1", "secret-delivery-reference"},
		{"webhooks sends notifications", accountsTF, "topic   = module.pubsub.topic_names[\"notifications\"]\n  role    = \"roles/pubsub.publisher\"\n  member  = \"serviceAccount:${google_service_account.oauthcallback.email}\"", "topic   = module.pubsub.topic_names[\"notifications\"]\n  role    = \"roles/pubsub.publisher\"\n  member  = \"serviceAccount:${google_service_account.webhooks.email}\"", "pubsub-publishers"},
		{"rotate cannot republish billing events", accountsTF, "resource \"google_pubsub_topic_iam_member\" \"rotate_billing\" {\n  project = var.project_id\n  topic   = module.pubsub.topic_names[\"billing-events\"]", "resource \"google_pubsub_topic_iam_member\" \"rotate_billing\" {\n  project = var.project_id\n  topic   = module.pubsub.topic_names[\"rotation\"]", "pubsub-publishers"},
		{"project-wide publisher", accountsTF, `role    = "roles/cloudsql.client"`, `role    = "roles/pubsub.publisher"`, "pubsub-publishers"},
	}
}

func opsMutations() []mutation {
	return []mutation{
		{"staging shares prod state", "environments/staging/versions.tf", "bucket = \"gatehouse-staging-tfstate\"\n    prefix = \"gatehouse/staging\"", "bucket = \"gatehouse-prod-tfstate\"\n    prefix = \"gatehouse/prod\"", "environments-separate"},
		{"staging in prod project", "environments/staging/terraform.tfvars", `"gatehouse-staging"`, `"gatehouse-prod"`, "environments-separate"},
		{"dev calls itself prod", "environments/dev/main.tf", `env                      = "dev"`, `env                      = "prod"`, "environments-separate"},
		{"provider range", "modules/kms/versions.tf", `version = "7.21.0"`, `version = ">= 7.0"`, "provider-pinned"},
		{"log bucket unlocked", "modules/observability/logging.tf", "locked         = true", "locked         = false", "log-bucket-locked"},
		{"30-day log retention", "modules/observability/logging.tf", "retention_days = 365", "retention_days = 30", "log-bucket-locked"},
		{"sink without audit logs", "modules/observability/logging.tf", `logName:"cloudaudit.googleapis.com"`, `logName:"syslog"`, "log-bucket-locked"},
		{"no latency alert", "modules/observability/monitoring.tf", `run.googleapis.com/request_latencies`, `run.googleapis.com/container/cpu/utilizations`, "alert-policies"},
		{"no 5xx alert", "modules/observability/monitoring.tf", `response_code_class=\"5xx\"`, `response_code_class=\"4xx\"`, "alert-policies"},
		{"subscription without dead letters", "modules/pubsub/main.tf", "  dead_letter_policy {", "  dead_letter_policy_removed {", "pubsub-dead-letters"},
		{"no rotation topic", "modules/gatehouse/main.tf", `topics     = ["notifications", "billing-events", "webhook-events", "saas-events", "rotation"]`, `topics     = ["notifications", "billing-events", "webhook-events", "saas-events"]`, "pubsub-dead-letters"},
		{"no webhook events topic", "modules/gatehouse/main.tf", `topics     = ["notifications", "billing-events", "webhook-events", "saas-events", "rotation"]`, `topics     = ["notifications", "billing-events", "saas-events", "rotation"]`, "pubsub-dead-letters"},
		{"no saas events topic", "modules/gatehouse/main.tf", `topics     = ["notifications", "billing-events", "webhook-events", "saas-events", "rotation"]`, `topics     = ["notifications", "billing-events", "webhook-events", "rotation"]`, "pubsub-dead-letters"},
		{"audit lines not kept", "modules/observability/logging.tf", `jsonPayload.log_type="audit"`, `jsonPayload.audit:*`, "audit-log-routing"},
		{"alert on an event never logged", "modules/observability/variables.tf", `jsonPayload.outcome=\"failure\"`, `jsonPayload.event=\"auth.login.failed\"`, "audit-log-routing"},
		{"rotate without retry", schedulerTF, "  retry_policy {\n    minimum_backoff = \"10s\"", "  no_retry_policy {\n    minimum_backoff = \"10s\"", "rotate-trigger-retry"},
		{"rotate without dead letters", schedulerTF, "dead_letter_topic_ids[\"rotation\"]", "dead_letter_topic_ids[\"notifications\"]", "rotate-trigger-retry"},
		{"push signed as rotate itself", schedulerTF, "service_account_email = google_service_account.rotate_trigger.email", "service_account_email = google_service_account.rotate.email", "rotate-trigger-retry"},
		{"ack deadline shorter than a run", schedulerTF, "ack_deadline_seconds       = 600", "ack_deadline_seconds       = 60", "rotate-trigger-retry"},
		{"no push to rotate", schedulerTF, "push_endpoint = \"${module.rotate.service_uri}", "push_endpoint = \"${module.webhooks.service_uri}", "rotate-trigger-retry"},
		{"rotate on Eventarc", functionTF, "  lifecycle {\n    precondition {", `  event_trigger {
    trigger_region        = var.region
    event_type            = "google.cloud.pubsub.topic.v1.messagePublished"
    pubsub_topic          = "projects/p/topics/rotation"
    retry_policy          = "RETRY_POLICY_RETRY"
    service_account_email = var.service_account_email
  }

  lifecycle {
    precondition {`, "rotate-trigger-retry"},
		{"message the rotate function refuses", schedulerTF, `jsonencode({ reason = "schedule" })`, `jsonencode({ task = "daily" })`, "rotation-message"},
		{"scheduled dry run", schedulerTF, `jsonencode({ reason = "schedule" })`, `jsonencode({ reason = "schedule", dry_run = true })`, "rotation-message"},
		{"scheduled subset of tasks", schedulerTF, `jsonencode({ reason = "schedule" })`, `jsonencode({ reason = "schedule", tasks = ["purge"] })`, "rotation-message"},
		{"rotation every 5 minutes", "modules/gatehouse/variables.tf", `default     = "17 * * * *"`, `default     = "*/5 * * * *"`, "rotate-trigger-retry"},
		{"events hourly", schedulerTF, `schedule    = var.events_schedule`, `schedule    = "17 * * * *"`, "rotate-trigger-retry"},
		{"rotation job asks only for events", schedulerTF, `jsonencode({ reason = "schedule" })`, `jsonencode({ reason = "events" })`, "rotate-trigger-retry"},
		{"events job runs other tasks", schedulerTF, `jsonencode({ reason = "events", tasks = ["outbox"] })`, `jsonencode({ reason = "events", tasks = ["purge"] })`, "rotation-message"},
	}
}
