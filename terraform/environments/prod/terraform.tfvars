# Replace with this environment's project (see terraform/README.md).
project_id      = "gatehouse-prod"
region          = "europe-west1"
auth_domain     = "auth.gatehouse.example.com"
allowed_origins = ["https://app.gatehouse.example.com"]
# Required in prod (validation): ids of Cloud Monitoring notification
# channels, e.g. projects/gatehouse-prod/notificationChannels/123.
notification_channels = []
