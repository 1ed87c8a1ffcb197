# Sign-ins and webhook deliveries by outcome, counted from the audit lines
# the functions already write (shared/audit logs each event with
# "log_type":"audit", action and outcome).
resource "google_logging_metric" "audit_outcomes" {
  for_each = {
    sign_ins         = "auth.login"
    webhook_outcomes = "webhook.event\" OR \"webhook.rejected"
  }

  project = var.project_id
  name    = "gatehouse/${each.key}"
  filter  = "resource.type=\"cloud_run_revision\" AND jsonPayload.log_type=\"audit\" AND jsonPayload.action=(\"${each.value}\")"

  label_extractors = {
    outcome = "EXTRACT(jsonPayload.outcome)"
    action  = "EXTRACT(jsonPayload.action)"
  }

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"

    labels {
      key = "outcome"
    }
    labels {
      key = "action"
    }
  }
}

locals {
  run_filter = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=(${local.services_filter})"

  # One chart: a title and the time series (filter, aligner, group-by).
  charts = [
    ["Requests per second by function", "metric.type=\"run.googleapis.com/request_count\" AND ${local.run_filter}", "ALIGN_RATE", ["resource.label.service_name"]],
    ["5xx per second by function", "metric.type=\"run.googleapis.com/request_count\" AND metric.labels.response_code_class=\"5xx\" AND ${local.run_filter}", "ALIGN_RATE", ["resource.label.service_name"]],
    ["p99 latency (ms) by function", "metric.type=\"run.googleapis.com/request_latencies\" AND ${local.run_filter}", "ALIGN_PERCENTILE_99", ["resource.label.service_name"]],
    ["Instances by function", "metric.type=\"run.googleapis.com/container/instance_count\" AND ${local.run_filter}", "ALIGN_MAX", ["resource.label.service_name"]],
    ["Sign-in attempts by outcome", "metric.type=\"logging.googleapis.com/user/${google_logging_metric.audit_outcomes["sign_ins"].name}\" AND resource.type=\"cloud_run_revision\"", "ALIGN_RATE", ["metric.label.outcome"]],
    ["Failed sign-ins and second factors", "metric.type=\"logging.googleapis.com/user/${google_logging_metric.auth_failures.name}\" AND resource.type=\"cloud_run_revision\"", "ALIGN_RATE", []],
    ["Rate-limit denials (429) by function", "metric.type=\"run.googleapis.com/request_count\" AND metric.labels.response_code=\"429\" AND ${local.run_filter}", "ALIGN_RATE", ["resource.label.service_name"]],
    ["Webhook deliveries by outcome", "metric.type=\"logging.googleapis.com/user/${google_logging_metric.audit_outcomes["webhook_outcomes"].name}\" AND resource.type=\"cloud_run_revision\"", "ALIGN_RATE", ["metric.label.action", "metric.label.outcome"]],
    ["Rotation failures", "metric.type=\"logging.googleapis.com/user/${google_logging_metric.rotation_failures.name}\" AND resource.type=\"cloud_run_revision\"", "ALIGN_DELTA", []],
    ["Cloud SQL connections", "metric.type=\"cloudsql.googleapis.com/database/postgresql/num_backends\" AND ${local.db_resource}", "ALIGN_MAX", []],
    ["Cloud SQL CPU", "metric.type=\"cloudsql.googleapis.com/database/cpu/utilization\" AND ${local.db_resource}", "ALIGN_MEAN", []],
    ["Cloud SQL disk", "metric.type=\"cloudsql.googleapis.com/database/disk/utilization\" AND ${local.db_resource}", "ALIGN_MAX", []],
    ["Dead-lettered messages", "metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.type=\"pubsub_subscription\"", "ALIGN_MAX", ["resource.label.subscription_id"]],
  ]
}

# The four functions on one page. Metrics the functions will export
# themselves (OpenTelemetry, issue 13) get their own charts when they
# exist; until then these charts use Cloud Run's, Cloud SQL's and Pub/Sub's
# built-in metrics and the log-based metrics above.
resource "google_monitoring_dashboard" "functions" {
  project = var.project_id
  dashboard_json = jsonencode({
    displayName = "Gatehouse functions"
    mosaicLayout = {
      columns = 12
      tiles = [for i, c in local.charts : {
        xPos   = (i % 2) * 6
        yPos   = floor(i / 2) * 4
        width  = 6
        height = 4
        widget = {
          title = c[0]
          xyChart = {
            dataSets = [{
              plotType = "LINE"
              timeSeriesQuery = {
                timeSeriesFilter = {
                  filter = c[1]
                  aggregation = {
                    alignmentPeriod    = "60s"
                    perSeriesAligner   = c[2]
                    crossSeriesReducer = c[2] == "ALIGN_PERCENTILE_99" ? "REDUCE_MAX" : "REDUCE_SUM"
                    groupByFields      = c[3]
                  }
                }
              }
            }]
          }
        }
      }]
    }
  })
}
