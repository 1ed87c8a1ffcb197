resource "google_logging_metric" "auth_failures" {
  project = var.project_id
  name    = "gatehouse/auth_failures"
  filter  = var.auth_failure_log_filter

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
  }
}

resource "google_monitoring_alert_policy" "auth_failures" {
  project               = var.project_id
  display_name          = "Gatehouse: authentication failure spike"
  combiner              = "OR"
  notification_channels = var.notification_channels

  conditions {
    display_name = "Failed sign-ins above ${var.auth_failure_threshold}/min"

    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.auth_failures.name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.auth_failure_threshold / 60
      duration        = "300s"

      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  documentation {
    content   = "Failed sign-ins are above the threshold: credential stuffing or a broken client. Check the audit log bucket gatehouse-audit and the rate limiter."
    mime_type = "text/markdown"
  }
}

# 5xx as a share of each function's responses, not a count that grows with
# traffic.
resource "google_monitoring_alert_policy" "error_rate" {
  project               = var.project_id
  display_name          = "Gatehouse: 5xx ratio"
  combiner              = "OR"
  notification_channels = var.notification_channels

  conditions {
    display_name = "5xx above ${var.error_ratio_threshold * 100}% of responses"

    condition_threshold {
      filter             = "metric.type=\"run.googleapis.com/request_count\" AND resource.type=\"cloud_run_revision\" AND resource.labels.service_name=(${local.services_filter}) AND metric.labels.response_code_class=\"5xx\""
      denominator_filter = "metric.type=\"run.googleapis.com/request_count\" AND resource.type=\"cloud_run_revision\" AND resource.labels.service_name=(${local.services_filter})"
      comparison         = "COMPARISON_GT"
      threshold_value    = var.error_ratio_threshold
      duration           = "300s"

      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.service_name"]
      }
      denominator_aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.service_name"]
      }
    }
  }

  documentation {
    content   = "A function answers 5xx to more than the threshold share of requests: database, KMS or Secret Manager unavailable (the functions fail closed). Check the function logs."
    mime_type = "text/markdown"
  }
}

resource "google_monitoring_alert_policy" "latency" {
  project               = var.project_id
  display_name          = "Gatehouse: p99 latency"
  combiner              = "OR"
  notification_channels = var.notification_channels

  conditions {
    display_name = "p99 latency above ${var.latency_threshold_ms} ms"

    condition_threshold {
      filter          = "metric.type=\"run.googleapis.com/request_latencies\" AND resource.type=\"cloud_run_revision\" AND resource.labels.service_name=(${local.services_filter})"
      comparison      = "COMPARISON_GT"
      threshold_value = var.latency_threshold_ms
      duration        = "600s"

      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_PERCENTILE_99"
        cross_series_reducer = "REDUCE_MAX"
        group_by_fields      = ["resource.label.service_name"]
      }
    }
  }

  documentation {
    content   = "p99 latency is high: Argon2id semaphore saturated, connection pool exhausted or Cloud SQL overloaded (docs/scaling.md)."
    mime_type = "text/markdown"
  }
}
