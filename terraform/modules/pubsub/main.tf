data "google_project" "this" {
  project_id = var.project_id
}

locals {
  # The Pub/Sub service agent moves undeliverable messages to dead-letter
  # topics (publisher there, subscriber on the source) and signs push ID
  # tokens. Google creates it when the API is enabled; the
  # google_project_service_identity resource that would create it
  # explicitly exists only in the google-beta provider, so every binding to
  # it waits for the API (the caller's depends_on) and for the topics.
  pubsub_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_topic" "main" {
  for_each = var.topics

  project                    = var.project_id
  name                       = each.key
  message_retention_duration = "604800s"
}

resource "google_pubsub_topic" "dead_letter" {
  for_each = var.topics

  project                    = var.project_id
  name                       = "${each.key}-dead-letter"
  message_retention_duration = "604800s"
}

# Keeps dead-lettered messages for inspection and replay; a topic with no
# subscription would drop them.
resource "google_pubsub_subscription" "dead_letter_hold" {
  for_each = var.topics

  project                    = var.project_id
  name                       = "${each.key}-dead-letter-hold"
  topic                      = google_pubsub_topic.dead_letter[each.key].id
  message_retention_duration = "604800s"
  retain_acked_messages      = true

  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_subscription" "consumer" {
  for_each = var.subscriptions

  project                    = var.project_id
  name                       = each.key
  topic                      = google_pubsub_topic.main[each.value].id
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter[each.value].id
    max_delivery_attempts = var.max_delivery_attempts
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  for_each = var.topics

  project = var.project_id
  topic   = google_pubsub_topic.dead_letter[each.key].name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  for_each = var.subscriptions

  project      = var.project_id
  subscription = google_pubsub_subscription.consumer[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}
