# Cloud SQL for PostgreSQL 16, reachable only on its private IP, only with
# TLS and client certificates (which the Cloud SQL connector presents), and
# only by IAM database users: no built-in password user exists in state.
resource "google_sql_database_instance" "main" {
  project             = var.project_id
  name                = var.instance_name
  region              = var.region
  database_version    = "POSTGRES_16"
  deletion_protection = true

  settings {
    tier                        = var.tier
    edition                     = "ENTERPRISE"
    availability_type           = "REGIONAL"
    disk_type                   = "PD_SSD"
    disk_autoresize             = true
    deletion_protection_enabled = true

    # tfsec 1.x reads the require_ssl argument, which provider 6 removed;
    # TLS with client certificates is enforced by ssl_mode below.
    #tfsec:ignore:google-sql-encrypt-in-transit-data
    ip_configuration {
      ipv4_enabled    = false
      private_network = var.network_id
      ssl_mode        = "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"
    }

    # A last backup when the instance is deleted (deletion protection must
    # be lifted first), kept for a year.
    final_backup_config {
      enabled        = true
      retention_days = 365
    }

    backup_configuration {
      enabled                        = true
      start_time                     = "02:00"
      point_in_time_recovery_enabled = true
      transaction_log_retention_days = 7

      backup_retention_settings {
        retained_backups = 30
        retention_unit   = "COUNT"
      }
    }

    maintenance_window {
      day          = 7
      hour         = 3
      update_track = "stable"
    }

    insights_config {
      query_insights_enabled  = true
      record_application_tags = false
      record_client_address   = false
    }

    database_flags {
      name  = "cloudsql.iam_authentication"
      value = "on"
    }
    database_flags {
      name  = "log_connections"
      value = "on"
    }
    database_flags {
      name  = "log_disconnections"
      value = "on"
    }
    database_flags {
      name  = "log_checkpoints"
      value = "on"
    }
    database_flags {
      name  = "log_lock_waits"
      value = "on"
    }
    database_flags {
      name  = "log_temp_files"
      value = "0"
    }
    # Statement logging (INFRA-2): pgaudit logs every DDL statement and
    # every role or privilege change (who ran it, as which user), never
    # the data statements, which carry user data.
    database_flags {
      name  = "cloudsql.enable_pgaudit"
      value = "on"
    }
    database_flags {
      name  = "pgaudit.log"
      value = "ddl,role"
    }
    # -1 disables statement-duration logging: statements carry user data.
    database_flags {
      name  = "log_min_duration_statement"
      value = "-1"
    }
    database_flags {
      name  = "max_connections"
      value = tostring(var.max_connections)
    }
  }

  lifecycle {
    prevent_destroy = true
  }
}

resource "google_sql_database" "app" {
  project         = var.project_id
  instance        = google_sql_database_instance.main.name
  name            = var.database_name
  deletion_policy = "ABANDON"
}

# IAM database users: the name is the service account email without
# ".gserviceaccount.com". They log in with short-lived OAuth tokens; their
# privileges come from the application role `gatehouse migrate` creates
# and grants (README).
resource "google_sql_user" "function" {
  for_each = var.iam_service_accounts

  project  = var.project_id
  instance = google_sql_database_instance.main.name
  name     = trimsuffix(each.value, ".gserviceaccount.com")
  type     = "CLOUD_IAM_SERVICE_ACCOUNT"
}

# The migrator's IAM user: cloudsqlsuperuser, so the migration job can
# create tables, the application role and its grants. Only the job runs as
# this service account.
resource "google_sql_user" "migrator" {
  project        = var.project_id
  instance       = google_sql_database_instance.main.name
  name           = trimsuffix(var.migrator, ".gserviceaccount.com")
  type           = "CLOUD_IAM_SERVICE_ACCOUNT"
  database_roles = ["cloudsqlsuperuser"]
}
