# One public origin (INFRA-8): a global external Application Load Balancer
# answers https://domain and routes /auth/, /oauth/ and /webhooks/ to the
# public functions through serverless NEGs, with Cloud Armor in front of
# every backend. The functions' own run.app URLs admit only this load
# balancer and internal traffic (ingress ALLOW_INTERNAL_AND_GCLB).

resource "google_compute_global_address" "lb" {
  project = var.project_id
  name    = "${var.name}-lb"
}

# Issued once the domain's A record points at the address (DNS is the one
# step Google cannot do for the operator).
resource "google_compute_managed_ssl_certificate" "lb" {
  project = var.project_id
  name    = "${var.name}-cert"

  managed {
    domains = [var.domain]
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "google_compute_ssl_policy" "tls" {
  project         = var.project_id
  name            = "${var.name}-tls"
  profile         = "RESTRICTED"
  min_tls_version = "TLS_1_2"
}

resource "google_compute_region_network_endpoint_group" "fn" {
  for_each = var.routes

  project               = var.project_id
  region                = var.region
  name                  = "${var.name}-${each.value}"
  network_endpoint_type = "SERVERLESS"

  cloud_run {
    service = each.value
  }
}

resource "google_compute_backend_service" "fn" {
  for_each = var.routes

  project               = var.project_id
  name                  = "${var.name}-${each.value}"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  protocol              = "HTTPS"
  security_policy       = google_compute_security_policy.edge.id

  backend {
    group = google_compute_region_network_endpoint_group.fn[each.key].id
  }

  log_config {
    enable      = true
    sample_rate = 1
  }
}

locals {
  prefixes = sort(keys(var.routes))
}

# https://domain/<prefix>/rest reaches function routes[prefix] as /rest,
# exactly as `gatehouse serve` mounts the functions locally. Any other path
# is refused by the edge policy before it reaches the default service.
resource "google_compute_url_map" "https" {
  project         = var.project_id
  name            = "${var.name}-https"
  default_service = google_compute_backend_service.fn[local.prefixes[0]].id

  host_rule {
    hosts        = [var.domain]
    path_matcher = "functions"
  }

  path_matcher {
    name            = "functions"
    default_service = google_compute_backend_service.fn[local.prefixes[0]].id

    dynamic "route_rules" {
      for_each = local.prefixes
      content {
        priority = route_rules.key + 1
        service  = google_compute_backend_service.fn[route_rules.value].id

        match_rules {
          prefix_match = "/${route_rules.value}/"
        }

        route_action {
          url_rewrite {
            path_prefix_rewrite = "/"
          }
        }
      }
    }

    # OIDC discovery and RFC 8414 look for the metadata at the origin's
    # root: /.well-known/ reaches the function of well_known_route as is
    # (the auth function serves it there and under /auth/.well-known/).
    route_rules {
      priority = length(local.prefixes) + 1
      service  = google_compute_backend_service.fn[var.well_known_route].id

      match_rules {
        prefix_match = "/.well-known/"
      }
    }
  }
}

resource "google_compute_target_https_proxy" "https" {
  project          = var.project_id
  name             = "${var.name}-https"
  url_map          = google_compute_url_map.https.id
  ssl_certificates = [google_compute_managed_ssl_certificate.lb.id]
  ssl_policy       = google_compute_ssl_policy.tls.id
}

resource "google_compute_global_forwarding_rule" "https" {
  project               = var.project_id
  name                  = "${var.name}-https"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  ip_address            = google_compute_global_address.lb.id
  port_range            = "443"
  target                = google_compute_target_https_proxy.https.id
}

# Plain HTTP is answered with a redirect to HTTPS and reaches nothing.
resource "google_compute_url_map" "http" {
  project = var.project_id
  name    = "${var.name}-http"

  default_url_redirect {
    https_redirect         = true
    redirect_response_code = "MOVED_PERMANENTLY_DEFAULT"
    strip_query            = false
  }
}

resource "google_compute_target_http_proxy" "http" {
  project = var.project_id
  name    = "${var.name}-http"
  url_map = google_compute_url_map.http.id
}

resource "google_compute_global_forwarding_rule" "http" {
  project               = var.project_id
  name                  = "${var.name}-http"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  ip_address            = google_compute_global_address.lb.id
  port_range            = "80"
  target                = google_compute_target_http_proxy.http.id
}
