# Schema migrations run inside the VPC, as a Cloud Run job the pipeline
# executes before anything new serves traffic (cloudbuild-deploy.yaml):
# update the job to the new image digest, execute it and wait, and only
# then apply Terraform. The job reaches Cloud SQL exactly as the functions
# do (Direct VPC egress on their subnet, with their network tag and so
# their egress rules) and logs in as the migrator's IAM database user,
# which holds cloudsqlsuperuser (modules/database): no postgres password
# and no VM exist. `gatehouse migrate` creates the application role the
# functions' IAM users act through and grants it least privilege.
resource "google_service_account" "migrator" {
  project      = var.project_id
  account_id   = "gh-migrator"
  display_name = "Gatehouse schema migrations (Cloud Run job gatehouse-migrate)"

  depends_on = [google_project_service.api]
}

resource "google_project_iam_member" "migrator_sql" {
  for_each = toset(["roles/cloudsql.client", "roles/cloudsql.instanceUser"])

  project = var.project_id
  role    = each.key
  member  = "serviceAccount:${google_service_account.migrator.email}"
}

locals {
  # The group role the functions' database users act through; created by
  # `gatehouse migrate` when missing.
  app_role = "gatehouse_app"
}

resource "google_cloud_run_v2_job" "migrate" {
  project             = var.project_id
  location            = var.region
  name                = "gatehouse-migrate"
  deletion_protection = false

  template {
    task_count  = 1
    parallelism = 1

    template {
      service_account = google_service_account.migrator.email
      max_retries     = 0
      timeout         = "900s"

      containers {
        image = var.image
        args = concat(["migrate", "--app-role", local.app_role],
        [for fn in sort(keys(local.function_accounts)) : "--app-member=${module.database.iam_users[fn]}"])

        env {
          name  = "GATEHOUSE_ENV"
          value = local.gatehouse_env
        }
        env {
          name  = "GATEHOUSE_PROJECT_ID"
          value = var.project_id
        }
        env {
          name  = "GATEHOUSE_DB_INSTANCE"
          value = module.database.connection_name
        }
        env {
          name  = "GATEHOUSE_DB_NAME"
          value = module.database.database_name
        }
        env {
          name  = "GATEHOUSE_DB_USER"
          value = module.database.migrator_user
        }

        resources {
          limits = {
            cpu    = "1"
            memory = "512Mi"
          }
        }
      }

      vpc_access {
        egress = "PRIVATE_RANGES_ONLY"
        network_interfaces {
          network    = local.network.network
          subnetwork = local.network.subnetwork
          tags       = local.network.tags
        }
      }
    }
  }

  depends_on = [google_project_iam_member.migrator_sql, google_service_account_iam_member.deployer_act_as]
}
