# Cloud Armor on every backend service. Rules run in priority order and the
# first match decides:
#   100        paths outside the routed prefixes: 404 at the edge
#   200        webhook receivers: allowed past the WAF (signed provider JSON;
#              the function verifies each signature first)
#   1000-1005  preconfigured WAF rules that fit a JSON API, 403, or only
#              logged while waf_mode is preview
#   2000+      per-client-IP rate-based bans on the sign-in, token,
#              magic-link and reset routes (429 while banned)
#   default    allow

locals {
  # Preconfigured WAF rule sets (ModSecurity CRS 3.3) that apply to a JSON
  # API; the PHP, Java, NodeJS and session-fixation sets do not.
  waf_rules   = ["sqli", "xss", "lfi", "rce", "scannerdetection", "protocolattack"]
  known_paths = "^/(${join("|", local.prefixes)}|[.]well-known)/"
}

resource "google_compute_security_policy" "edge" {
  project     = var.project_id
  name        = "${var.name}-edge"
  description = "Gatehouse edge: WAF, per-client rate bans, routed paths only."
  type        = "CLOUD_ARMOR"

  advanced_options_config {
    json_parsing = "STANDARD"
    log_level    = "NORMAL"
  }

  rule {
    action      = "deny(404)"
    priority    = 100
    description = "Paths outside the routed prefixes."
    match {
      expr {
        expression = "!request.path.matches('${local.known_paths}')"
      }
    }
  }

  rule {
    action      = "allow"
    priority    = 200
    description = "Webhook providers: signed bodies, verified by the function."
    match {
      expr {
        expression = "request.path.startsWith('${var.webhook_prefix}')"
      }
    }
  }

  dynamic "rule" {
    for_each = local.waf_rules
    content {
      action      = "deny(403)"
      priority    = 1000 + rule.key
      preview     = var.waf_mode == "preview"
      description = "Preconfigured WAF: ${rule.value}."
      match {
        expr {
          expression = "evaluatePreconfiguredWaf('${rule.value}-v33-stable', {'sensitivity': ${var.waf_sensitivity}})"
        }
      }
    }
  }

  dynamic "rule" {
    for_each = { for i, name in sort(keys(var.rate_limits)) : name => merge(var.rate_limits[name], { priority = 2000 + i }) }
    content {
      action      = "rate_based_ban"
      priority    = rule.value.priority
      description = "Rate ban per client IP: ${rule.key}."
      match {
        expr {
          expression = join(" || ", [for p in rule.value.paths : "request.path == '${p}'"])
        }
      }
      rate_limit_options {
        conform_action   = "allow"
        exceed_action    = "deny(429)"
        enforce_on_key   = "IP"
        ban_duration_sec = rule.value.ban_duration_sec
        rate_limit_threshold {
          count        = rule.value.count
          interval_sec = rule.value.interval_sec
        }
      }
    }
  }

  rule {
    action      = "allow"
    priority    = 2147483647
    description = "Default: allow what no rule above refused."
    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = ["*"]
      }
    }
  }
}
