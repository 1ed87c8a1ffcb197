# One origin (INFRA-8): behind the load balancer the public functions admit
# only it and internal traffic, rotate stays private, the proxy hops the
# functions trust follow the load balancer, and the public URL and OAuth
# callback base follow auth_domain. Planned offline with a mocked google
# provider by terraform/tfcheck TestLoadBalancerIsTheOnlyOrigin.

mock_provider "google" {
  mock_data "google_project" {
    defaults = {
      number = "123456789012"
    }
  }
}

variables {
  project_id         = "gatehouse-test"
  env                = "staging"
  region             = "europe-west1"
  subnet_cidr        = "10.20.0.0/24"
  db_tier            = "db-custom-1-3840"
  db_max_connections = 300
  auth_domain        = "auth.example.com"
  allowed_origins    = ["https://app.example.com"]
  source_object      = "gatehouse-0123abc.zip"
  image              = "europe-west1-docker.pkg.dev/gatehouse-test/gatehouse/gatehouse@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
  scaling = {
    auth          = { min = 0, max = 10 }
    oauthcallback = { min = 0, max = 3 }
    webhooks      = { min = 0, max = 3 }
    rotate        = { min = 0, max = 1 }
  }
}

# Controls: INFRA-8
run "load_balancer_is_the_only_way_in" {
  command = plan

  assert {
    condition     = length(module.loadbalancer) == 1
    error_message = "the load balancer is not planned"
  }
  assert {
    condition     = alltrue([for f in [module.auth, module.oauthcallback, module.webhooks] : f.ingress == "ALLOW_INTERNAL_AND_GCLB"])
    error_message = "a public function admits traffic that bypasses the load balancer"
  }
  assert {
    condition     = module.rotate.ingress == "ALLOW_INTERNAL_ONLY"
    error_message = "rotate is reachable from outside"
  }
  assert {
    condition     = alltrue([for f in [module.auth, module.oauthcallback, module.webhooks] : f.environment["GATEHOUSE_TRUSTED_PROXY_HOPS"] == "2"])
    error_message = "behind the load balancer the public functions must trust two X-Forwarded-For hops"
  }
  assert {
    condition     = module.auth.environment["GATEHOUSE_PUBLIC_URL"] == "https://auth.example.com" && module.oauthcallback.environment["GATEHOUSE_OAUTH_CALLBACK_BASE"] == "https://auth.example.com/oauth"
    error_message = "the public URL and the OAuth callback base do not follow auth_domain"
  }
}

# Controls: INFRA-8
run "without_load_balancer_one_hop" {
  command = plan

  variables {
    load_balancer      = false
    trusted_proxy_hops = 1
  }

  assert {
    condition     = length(module.loadbalancer) == 0 && module.auth.ingress == "ALLOW_ALL" && module.auth.environment["GATEHOUSE_TRUSTED_PROXY_HOPS"] == "1"
    error_message = "without the load balancer, ingress and proxy hops disagree"
  }
}

# A direct run.app caller must not be able to forge X-Forwarded-For: two
# hops without the load balancer (or one behind it) is refused at plan.
# Controls: INFRA-8, AUTH-3
run "hops_must_match_the_load_balancer" {
  command = plan

  variables {
    load_balancer      = false
    trusted_proxy_hops = 2
  }

  expect_failures = [var.trusted_proxy_hops]
}

# Controls: INFRA-8, AUTH-3
run "one_hop_behind_the_load_balancer_is_refused" {
  command = plan

  variables {
    trusted_proxy_hops = 1
  }

  expect_failures = [var.trusted_proxy_hops]
}
