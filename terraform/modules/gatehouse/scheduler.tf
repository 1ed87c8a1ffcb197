# Rotation: Cloud Scheduler publishes {"reason":"schedule"} (no task list:
# every task, each acting only when due; functions/rotate/message.go) to the
# rotation topic, and a push subscription delivers it to the rotate
# function with retry and a dead-letter topic (docs/rotate.md).
resource "google_cloud_scheduler_job" "rotation" {
  project     = var.project_id
  region      = var.region
  name        = "gatehouse-rotation"
  description = "Key rotation, re-encryption, purges and retention (each task only when due)."
  schedule    = var.rotation_schedule
  time_zone   = "Etc/UTC"

  retry_config {
    retry_count = 3
  }

  pubsub_target {
    topic_name = module.pubsub.topic_ids["rotation"]
    data       = base64encode(jsonencode({ reason = "schedule" }))
  }

  depends_on = [google_project_service.api]
}

# Events: every minute (events_schedule) a request for due events only
# ({"reason":"events","tasks":["outbox"]}: the outbox task, outside the
# rotation lease, with no run report or audit event), so events reach
# saas-events and the SaaS's webhook endpoints within about a minute of
# their change, not at the next hourly rotation (docs/events.md).
resource "google_cloud_scheduler_job" "events" {
  project     = var.project_id
  region      = var.region
  name        = "gatehouse-events"
  description = "Publishes and delivers due events (the rotate function's outbox task only)."
  schedule    = var.events_schedule
  time_zone   = "Etc/UTC"

  pubsub_target {
    topic_name = module.pubsub.topic_ids["rotation"]
    data       = base64encode(jsonencode({ reason = "events", tasks = ["outbox"] }))
  }

  depends_on = [google_project_service.api]
}

# Pushes each rotation message to rotate with an ID token for
# rotate_trigger (the only invoker of rotate). A failed run answers non-2xx
# and is redelivered with backoff (10 s to 600 s, as docs/rotate.md asks);
# after max_delivery_attempts it moves to rotation-dead-letter, where
# rotation-dead-letter-hold keeps it. The ack deadline covers the
# function's 540 s timeout, so a run still in progress is not redelivered.
# The path names the topic, as the Functions Framework expects of a
# Pub/Sub push, which it turns into the CloudEvent rotate handles.
resource "google_pubsub_subscription" "rotate_push" {
  project                    = var.project_id
  name                       = "rotation-rotate-push"
  topic                      = module.pubsub.topic_ids["rotation"]
  ack_deadline_seconds       = 600
  message_retention_duration = "86400s"

  push_config {
    push_endpoint = "${module.rotate.service_uri}/${module.pubsub.topic_ids["rotation"]}"

    oidc_token {
      service_account_email = google_service_account.rotate_trigger.email
      audience              = module.rotate.service_uri
    }
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = module.pubsub.dead_letter_topic_ids["rotation"]
    max_delivery_attempts = 10
  }

  expiration_policy {
    ttl = ""
  }

  depends_on = [google_service_account_iam_member.rotate_trigger_token]
}

# The Pub/Sub service agent moves undeliverable messages to the dead-letter
# topic; it needs subscriber on the source subscription (publisher on the
# dead-letter topic is granted in modules/pubsub).
resource "google_pubsub_subscription_iam_member" "rotate_push_dead_letter" {
  project      = var.project_id
  subscription = google_pubsub_subscription.rotate_push.name
  role         = "roles/pubsub.subscriber"
  member       = module.pubsub.service_agent
}
