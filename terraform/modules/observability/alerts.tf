locals {
  db_resource = "resource.type=\"cloudsql_database\" AND resource.labels.database_id=\"${var.project_id}:${var.db_instance}\""
  # Alert policies that fire on one metric above a threshold.
  threshold_alerts = {
    dead_letters = {
      name      = "Gatehouse: dead-lettered messages"
      condition = "A message in a dead-letter hold"
      filter    = "metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.type=\"pubsub_subscription\" AND resource.labels.subscription_id=one_of(${join(",", [for s in var.dead_letter_holds : "\"${s}\""])})"
      threshold = 0
      duration  = "60s"
      aligner   = "ALIGN_MAX"
      reducer   = "REDUCE_MAX"
      group_by  = ["resource.label.subscription_id"]
      doc       = "Messages were dead-lettered after 10 failed deliveries. rotation-dead-letter-hold means key rotation, re-encryption, purges or retention stopped (docs/rotate.md): read the rotate function's logs, fix, then replay the held message to the rotation topic."
    }
    rotation_failures = {
      name      = "Gatehouse: rotation failures"
      condition = "Rotate logged an error"
      filter    = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.rotation_failures.name}\" AND resource.type=\"cloud_run_revision\""
      threshold = 0
      duration  = "0s"
      aligner   = "ALIGN_DELTA"
      reducer   = "REDUCE_SUM"
      group_by  = []
      doc       = "A rotation run failed (KMS or database unavailable, a task error); Pub/Sub redelivers it with backoff and dead-letters it after 10 attempts. Read the rotate function's logs."
    }
    db_connections = {
      name      = "Gatehouse: Cloud SQL connections near max_connections"
      condition = "Connections above ${var.db_connection_alert_ratio * 100}% of ${var.db_max_connections}"
      filter    = "metric.type=\"cloudsql.googleapis.com/database/postgresql/num_backends\" AND ${local.db_resource}"
      threshold = floor(var.db_max_connections * var.db_connection_alert_ratio)
      duration  = "300s"
      aligner   = "ALIGN_MAX"
      reducer   = "REDUCE_SUM"
      group_by  = []
      doc       = "Connections approach max_connections: a new connection will be refused and requests fail closed. Check the connection budget (docs/scaling.md) against the instances running."
    }
    db_cpu = {
      name      = "Gatehouse: Cloud SQL CPU"
      condition = "CPU above 80% for 10 minutes"
      filter    = "metric.type=\"cloudsql.googleapis.com/database/cpu/utilization\" AND ${local.db_resource}"
      threshold = 0.8
      duration  = "600s"
      aligner   = "ALIGN_MEAN"
      reducer   = "REDUCE_MAX"
      group_by  = []
      doc       = "The database is CPU-bound: check Query Insights, then size db_tier (docs/scaling.md)."
    }
    db_disk = {
      name      = "Gatehouse: Cloud SQL disk"
      condition = "Disk above 85% full"
      filter    = "metric.type=\"cloudsql.googleapis.com/database/disk/utilization\" AND ${local.db_resource}"
      threshold = 0.85
      duration  = "300s"
      aligner   = "ALIGN_MAX"
      reducer   = "REDUCE_MAX"
      group_by  = []
      doc       = "The disk grows automatically, but a fast fill means runaway data (audit, rate-limit rows) or a retention job that stopped (rotation failures)."
    }
  }
}

# Every rotate error: failed tasks, refused or dropped messages.
resource "google_logging_metric" "rotation_failures" {
  project = var.project_id
  name    = "gatehouse/rotation_failures"
  filter  = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"rotate\" AND severity>=ERROR"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
  }
}

resource "google_monitoring_alert_policy" "threshold" {
  for_each = local.threshold_alerts

  project               = var.project_id
  display_name          = each.value.name
  combiner              = "OR"
  notification_channels = var.notification_channels

  conditions {
    display_name = each.value.condition

    condition_threshold {
      filter          = each.value.filter
      comparison      = "COMPARISON_GT"
      threshold_value = each.value.threshold
      duration        = each.value.duration

      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = each.value.aligner
        cross_series_reducer = each.value.reducer
        group_by_fields      = each.value.group_by
      }
    }
  }

  documentation {
    content   = each.value.doc
    mime_type = "text/markdown"
  }
}
