# Replace with this environment's project (see terraform/README.md).
project_id      = "gatehouse-staging"
region          = "europe-west1"
auth_domain     = "auth.staging.gatehouse.example.com"
allowed_origins = ["https://app.staging.gatehouse.example.com"]
