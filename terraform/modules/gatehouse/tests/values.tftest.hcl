# How values flow through modules/gatehouse, planned offline with a mocked
# google provider (terraform/tfcheck TestTerraformModuleTests). Each run
# plans the whole stack, so every variable validation and precondition is
# evaluated.

mock_provider "google" {
  mock_data "google_project" {
    defaults = {
      number = "123456789012"
    }
  }
}

variables {
  project_id         = "gatehouse-test"
  env                = "staging"
  region             = "europe-west1"
  subnet_cidr        = "10.20.0.0/24"
  db_tier            = "db-custom-1-3840"
  db_max_connections = 300
  auth_domain        = "auth.example.com"
  allowed_origins    = ["https://app.example.com"]
  source_object      = "gatehouse-0123abc.zip"
  image              = "europe-west1-docker.pkg.dev/gatehouse-test/gatehouse/gatehouse@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
  scaling = {
    auth          = { min = 0, max = 10 }
    oauthcallback = { min = 0, max = 3 }
    webhooks      = { min = 0, max = 3 }
    rotate        = { min = 0, max = 1 }
  }
}

# Controls: INFRA-2
run "connection_budget" {
  command = plan

  variables {
    db_max_connections = 2 * (10 * 8 + 3 * 8 + 3 * 8 + 1 * 8) + 24
  }

  expect_failures = [var.db_max_connections]
}

# Controls: AUTH-1
run "auth_memory_follows_the_hashes" {
  command = plan

  variables {
    argon2_concurrency     = 8
    auth_heap_headroom_mib = 128
  }

  assert {
    condition     = module.auth.environment["GOMEMLIMIT"] == "280MiB" && module.auth.environment["GATEHOUSE_PASSWORD_MAX_CONCURRENT"] == "8"
    error_message = "GOMEMLIMIT does not cover 8 hashes of 19 MiB plus 128 MiB of headroom"
  }
  assert {
    condition     = module.auth.memory == "640Mi"
    error_message = "the auth instance memory is not twice GOMEMLIMIT rounded up to 128 MiB"
  }
}

# Controls: INFRA-7
run "prod_needs_notification_channels" {
  command = plan

  variables {
    env                   = "prod"
    notification_channels = []
  }

  expect_failures = [var.notification_channels]
}

# Controls: INFRA-9
run "image_by_digest_only" {
  command = plan

  variables {
    image = "europe-west1-docker.pkg.dev/gatehouse-test/gatehouse/gatehouse:latest"
  }

  expect_failures = [var.image]
}

# The migration job runs the release's image inside the VPC exactly as the
# functions reach Cloud SQL (their subnet and network tag, so their egress
# rules; private ranges only), never retries a half-applied run, and makes
# the four functions' IAM users members of the application role.
# Controls: INFRA-9, INFRA-1
run "migration_job_in_the_vpc" {
  command = plan

  assert {
    condition     = one(google_cloud_run_v2_job.migrate.template[0].template[0].containers).image == var.image
    error_message = "the migration job does not run the image the pipeline built"
  }
  assert {
    condition = alltrue([
      for v in google_cloud_run_v2_job.migrate.template[0].template[0].vpc_access : v.egress == "PRIVATE_RANGES_ONLY" && alltrue([
        for n in v.network_interfaces : n.subnetwork == local.network.subnetwork && tolist(n.tags) == tolist(local.network.tags)
      ])
    ]) && length(google_cloud_run_v2_job.migrate.template[0].template[0].vpc_access) == 1
    error_message = "the migration job does not egress on the functions' subnet with their tag"
  }
  assert {
    condition     = google_cloud_run_v2_job.migrate.template[0].template[0].max_retries == 0
    error_message = "a failed migration is retried instead of failing the deploy"
  }
  assert {
    condition = (
      slice(one(google_cloud_run_v2_job.migrate.template[0].template[0].containers).args, 0, 3) == tolist(["migrate", "--app-role", "gatehouse_app"]) &&
      length(one(google_cloud_run_v2_job.migrate.template[0].template[0].containers).args) == 3 + 4
    )
    error_message = "the job does not run gatehouse migrate --app-role with the four functions' users"
  }
}
