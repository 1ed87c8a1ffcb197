# The alerts and the dashboard, applied against a mocked google provider:
# 5xx is paged as a share of each function's responses, every dead-letter
# hold pages, rotation failures page, Cloud SQL connections page against
# max_connections, CPU and disk page, and the dashboard charts the four
# functions. Planned (the audit bucket cannot be destroyed, so no apply);
# terraform/tfcheck TestAlertsAndDashboard runs it.

mock_provider "google" {}

variables {
  project_id            = "gatehouse-test"
  function_services     = ["auth", "oauthcallback", "webhooks", "rotate"]
  notification_channels = ["projects/gatehouse-test/notificationChannels/1"]
  db_instance           = "gatehouse-test"
  db_max_connections    = 500
  dead_letter_holds     = ["rotation-dead-letter-hold", "notifications-dead-letter-hold", "billing-events-dead-letter-hold"]
}

run "alerts" {
  command = plan

  assert {
    condition = alltrue([
      for c in google_monitoring_alert_policy.error_rate.conditions : strcontains(c.condition_threshold[0].filter, "response_code_class=\"5xx\"") && !strcontains(c.condition_threshold[0].denominator_filter, "5xx") && c.condition_threshold[0].denominator_filter != "" && c.condition_threshold[0].threshold_value == 0.02
    ])
    error_message = "5xx is not paged as a share of all responses"
  }
  assert {
    condition = alltrue([
      for s in var.dead_letter_holds : strcontains(google_monitoring_alert_policy.threshold["dead_letters"].conditions[0].condition_threshold[0].filter, "\"${s}\"")
    ])
    error_message = "a dead-letter hold does not page"
  }
  assert {
    condition     = strcontains(google_monitoring_alert_policy.threshold["rotation_failures"].conditions[0].condition_threshold[0].filter, google_logging_metric.rotation_failures.name) && strcontains(google_logging_metric.rotation_failures.filter, "service_name=\"rotate\"")
    error_message = "rotation failures do not page"
  }
  assert {
    condition     = google_monitoring_alert_policy.threshold["db_connections"].conditions[0].condition_threshold[0].threshold_value == 400
    error_message = "the connections alert is not at 80% of max_connections"
  }
  assert {
    condition     = strcontains(google_monitoring_alert_policy.threshold["db_cpu"].conditions[0].condition_threshold[0].filter, "cpu/utilization") && strcontains(google_monitoring_alert_policy.threshold["db_disk"].conditions[0].condition_threshold[0].filter, "disk/utilization")
    error_message = "Cloud SQL CPU or disk does not page"
  }
  assert {
    condition     = alltrue([for p in values(google_monitoring_alert_policy.threshold) : p.notification_channels == tolist(var.notification_channels)]) && google_monitoring_alert_policy.error_rate.notification_channels == tolist(var.notification_channels)
    error_message = "an alert pages nobody"
  }
  assert {
    condition     = alltrue([for f in var.function_services : strcontains(google_monitoring_dashboard.functions.dashboard_json, "\\\"${f}\\\"")])
    error_message = "the dashboard does not chart the four functions"
  }
}
