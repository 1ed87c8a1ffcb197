# Replace with this environment's project (see terraform/README.md).
project_id      = "gatehouse-prod"
region          = "europe-west1"
public_base_url = "https://auth.gatehouse.example.com"
allowed_origins = ["https://app.gatehouse.example.com"]
