output "connection_name" {
  description = "Instance connection name (project:region:instance) for GATEHOUSE_DB_INSTANCE."
  value       = google_sql_database_instance.main.connection_name
}

output "instance_name" {
  description = "Instance name, for alert filters and IAM conditions."
  value       = google_sql_database_instance.main.name
}

output "database_name" {
  description = "Application database name for GATEHOUSE_DB_NAME."
  value       = google_sql_database.app.name
}

output "iam_users" {
  description = "Function name => IAM database user name for GATEHOUSE_DB_USER."
  value       = { for fn, u in google_sql_user.function : fn => u.name }
}

output "migrator_user" {
  description = "IAM database user of the migration job, for its GATEHOUSE_DB_USER."
  value       = google_sql_user.migrator.name
}
