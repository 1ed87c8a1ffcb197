# Cloud SQL as the deploy needs it, planned against a mocked google
# provider: the migration job's IAM database user holds cloudsqlsuperuser
# (no postgres password, no VM), the functions' users hold nothing more
# than login, pgaudit logs DDL and role changes, PITR and a final backup
# are on. terraform/tfcheck TestDatabaseForTheMigrationJob runs it.

mock_provider "google" {}

variables {
  project_id      = "gatehouse-test"
  region          = "europe-west1"
  instance_name   = "gatehouse-test"
  tier            = "db-custom-1-3840"
  max_connections = 300
  network_id      = "projects/gatehouse-test/global/networks/gatehouse-test"
  iam_service_accounts = {
    auth   = "gh-auth@gatehouse-test.iam.gserviceaccount.com"
    rotate = "gh-rotate@gatehouse-test.iam.gserviceaccount.com"
  }
  migrator = "gh-migrator@gatehouse-test.iam.gserviceaccount.com"
}

run "migrator_and_statement_logging" {
  command = plan

  assert {
    condition     = google_sql_user.migrator.type == "CLOUD_IAM_SERVICE_ACCOUNT" && google_sql_user.migrator.name == "gh-migrator@gatehouse-test.iam" && tolist(google_sql_user.migrator.database_roles) == tolist(["cloudsqlsuperuser"])
    error_message = "the migrator's IAM database user does not get cloudsqlsuperuser"
  }
  assert {
    condition     = alltrue([for u in google_sql_user.function : u.type == "CLOUD_IAM_SERVICE_ACCOUNT" && length(coalesce(u.database_roles, [])) == 0])
    error_message = "a function's database user gets a role beyond login (gatehouse migrate grants gatehouse_app)"
  }
  assert {
    condition = {
      for f in google_sql_database_instance.main.settings[0].database_flags : f.name => f.value
      if contains(["cloudsql.enable_pgaudit", "pgaudit.log", "cloudsql.iam_authentication"], f.name)
    } == { "cloudsql.enable_pgaudit" = "on", "pgaudit.log" = "ddl,role", "cloudsql.iam_authentication" = "on" }
    error_message = "pgaudit (ddl,role) or IAM authentication is off"
  }
  assert {
    condition     = google_sql_database_instance.main.settings[0].backup_configuration[0].point_in_time_recovery_enabled && one(google_sql_database_instance.main.settings[0].final_backup_config).enabled
    error_message = "point-in-time recovery or the final backup is off"
  }
}
