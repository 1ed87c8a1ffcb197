# Replace with this environment's project (see terraform/README.md).
project_id      = "gatehouse-dev"
region          = "europe-west1"
public_base_url = "https://auth.dev.gatehouse.example.com"
allowed_origins = ["https://app.dev.gatehouse.example.com"]
