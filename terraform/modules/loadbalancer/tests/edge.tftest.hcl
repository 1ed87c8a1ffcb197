# The one public origin (INFRA-8), applied against a mocked google provider
# (no credentials, nothing created): what the load balancer routes where,
# how plain HTTP is answered, and what Cloud Armor does in front of every
# backend. terraform/tfcheck TestLoadBalancerIsTheOnlyOrigin runs it.

mock_provider "google" {}

variables {
  project_id = "gatehouse-test"
  region     = "europe-west1"
  name       = "gatehouse-test"
  domain     = "auth.example.com"
  waf_mode   = "enforce"
  routes = {
    auth     = "auth"
    oauth    = "oauthcallback"
    webhooks = "webhooks"
  }
  rate_limits = {
    sign-in = { paths = ["/auth/login", "/auth/register"], count = 60, interval_sec = 60, ban_duration_sec = 600 }
    token   = { paths = ["/auth/token"], count = 300, interval_sec = 60, ban_duration_sec = 300 }
  }
}

run "routes_reach_the_three_public_functions" {
  assert {
    condition = {
      for r in google_compute_url_map.https.path_matcher[0].route_rules : r.match_rules[0].prefix_match => r.service
      } == {
      "/auth/"        = google_compute_backend_service.fn["auth"].id
      "/oauth/"       = google_compute_backend_service.fn["oauth"].id
      "/webhooks/"    = google_compute_backend_service.fn["webhooks"].id
      "/.well-known/" = google_compute_backend_service.fn["auth"].id
    }
    error_message = "the URL map does not send /auth/, /oauth/, /webhooks/ and /.well-known/ to their functions"
  }
  assert {
    condition = {
      for k, neg in google_compute_region_network_endpoint_group.fn : k => neg.cloud_run[0].service
    } == { auth = "auth", oauth = "oauthcallback", webhooks = "webhooks" }
    error_message = "a serverless NEG points at the wrong Cloud Run service (rotate must have none)"
  }
  assert {
    condition = {
      for k, b in google_compute_backend_service.fn : k => one([for be in b.backend : be.group])
    } == { for k, neg in google_compute_region_network_endpoint_group.fn : k => neg.id }
    error_message = "a backend service does not use its function's NEG"
  }
  assert {
    condition = alltrue([
      for r in google_compute_url_map.https.path_matcher[0].route_rules :
      r.match_rules[0].prefix_match == "/.well-known/" ? length(r.route_action) == 0 : r.route_action[0].url_rewrite[0].path_prefix_rewrite == "/"
    ])
    error_message = "the function prefixes must be stripped (as gatehouse serve does) and /.well-known/ kept"
  }
  assert {
    condition     = flatten([for h in google_compute_url_map.https.host_rule : tolist(h.hosts)]) == ["auth.example.com"]
    error_message = "the URL map answers a host other than auth_domain"
  }
}

run "https_only_with_a_managed_certificate" {
  assert {
    condition     = google_compute_global_forwarding_rule.https.port_range == "443" && google_compute_target_https_proxy.https.ssl_certificates == tolist([google_compute_managed_ssl_certificate.lb.id])
    error_message = "port 443 is not served with the managed certificate"
  }
  assert {
    condition     = tolist(google_compute_managed_ssl_certificate.lb.managed[0].domains) == tolist(["auth.example.com"])
    error_message = "the managed certificate is not for auth_domain"
  }
  assert {
    condition     = google_compute_ssl_policy.tls.min_tls_version == "TLS_1_2" && google_compute_ssl_policy.tls.profile == "RESTRICTED"
    error_message = "TLS below 1.2 or a weak profile is accepted"
  }
  assert {
    condition     = google_compute_global_forwarding_rule.http.port_range == "80" && google_compute_target_http_proxy.http.url_map == google_compute_url_map.http.id
    error_message = "port 80 is not answered by the redirecting URL map"
  }
  assert {
    condition     = google_compute_url_map.http.default_url_redirect[0].https_redirect == true && length(google_compute_url_map.http.path_matcher) == 0 && google_compute_url_map.http.default_service == null
    error_message = "plain HTTP reaches a backend instead of a redirect to HTTPS"
  }
}

run "cloud_armor_in_front_of_every_backend" {
  assert {
    condition     = alltrue([for b in google_compute_backend_service.fn : b.security_policy == google_compute_security_policy.edge.id])
    error_message = "a backend service has no Cloud Armor policy"
  }
  assert {
    condition = toset([
      for r in google_compute_security_policy.edge.rule : regex("evaluatePreconfiguredWaf\\('([a-z]+)-", try(r.match[0].expr[0].expression, ""))[0]
      if r.action == "deny(403)" && !r.preview
    ]) == toset(["sqli", "xss", "lfi", "rce", "scannerdetection", "protocolattack"])
    error_message = "the enforced WAF rule sets are not sqli, xss, lfi, rce, scannerdetection and protocolattack"
  }
  assert {
    condition = toset([
      for r in google_compute_security_policy.edge.rule : r.match[0].expr[0].expression
      if r.action == "rate_based_ban" && try(r.rate_limit_options[0].enforce_on_key == "IP" && r.rate_limit_options[0].exceed_action == "deny(429)", false)
    ]) == toset(["request.path == '/auth/login' || request.path == '/auth/register'", "request.path == '/auth/token'"])
    error_message = "the per-client-IP rate bans do not cover exactly the configured routes"
  }
  assert {
    condition = one([
      for r in google_compute_security_policy.edge.rule : r.priority
      if r.action == "allow" && strcontains(try(r.match[0].expr[0].expression, ""), "/webhooks/")
    ]) < min([for r in google_compute_security_policy.edge.rule : r.priority if r.action == "deny(403)"]...)
    error_message = "webhook providers are not let through before the WAF rules"
  }
  assert {
    condition = one([
      for r in google_compute_security_policy.edge.rule : r.action
      if r.priority == 100
    ]) == "deny(404)"
    error_message = "paths outside the routed prefixes are not refused at the edge"
  }
}

run "waf_preview_only_logs" {
  variables {
    waf_mode = "preview"
  }

  assert {
    condition     = alltrue([for r in google_compute_security_policy.edge.rule : r.preview if r.action == "deny(403)"])
    error_message = "waf_mode = preview still enforces a WAF rule"
  }
  assert {
    condition     = alltrue([for r in google_compute_security_policy.edge.rule : !r.preview if r.action == "rate_based_ban"])
    error_message = "rate-based bans must enforce in preview mode too"
  }
}

run "domain_must_be_a_host_name" {
  command = plan

  variables {
    domain = "https://auth.example.com/"
  }

  expect_failures = [var.domain]
}
