# Publishes the daily rotation message that triggers the rotate function.
resource "google_cloud_scheduler_job" "rotation" {
  project     = var.project_id
  region      = var.region
  name        = "gatehouse-rotation"
  description = "Daily key rotation, re-encryption, purges and retention."
  schedule    = var.rotation_schedule
  time_zone   = "Etc/UTC"

  retry_config {
    retry_count = 3
  }

  pubsub_target {
    topic_name = module.pubsub.topic_ids["rotation"]
    data       = base64encode(jsonencode({ task = "daily" }))
  }

  depends_on = [google_project_service.api]
}
