# Replace with this environment's project (see terraform/README.md).
project_id      = "gatehouse-dev"
region          = "europe-west1"
auth_domain     = "auth.dev.gatehouse.example.com"
allowed_origins = ["https://app.dev.gatehouse.example.com"]
