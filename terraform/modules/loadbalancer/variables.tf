variable "project_id" {
  description = "Project that owns the load balancer."
  type        = string
}

variable "region" {
  description = "Region of the Cloud Run services the serverless NEGs point at."
  type        = string
}

variable "name" {
  description = "Name prefix of every resource, e.g. gatehouse-prod."
  type        = string
}

variable "domain" {
  description = "The one public hostname (auth_domain), e.g. auth.example.com, on the same site as the SaaS's app. Its DNS A record must point at the output address for the managed certificate to be issued."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.domain))
    error_message = "domain must be a lower-case DNS name such as auth.example.com."
  }
}

variable "routes" {
  description = "Path prefix (without slashes) => Cloud Run service it reaches, e.g. auth => auth. The prefix is stripped before the request reaches the function, as `gatehouse serve` does locally."
  type        = map(string)
}

variable "well_known_route" {
  description = "The routes key whose function answers /.well-known/ (OIDC discovery, RFC 8414 metadata, JWKS) at the origin's root, unrewritten."
  type        = string
  default     = "auth"

  validation {
    condition     = length(var.well_known_route) > 0
    error_message = "well_known_route must name a key of routes."
  }
}

variable "waf_mode" {
  description = "preview: the preconfigured WAF rules only log what they would block; enforce: they block (403). Rate-based bans always enforce."
  type        = string

  validation {
    condition     = contains(["preview", "enforce"], var.waf_mode)
    error_message = "waf_mode must be preview or enforce."
  }
}

variable "waf_sensitivity" {
  description = "Sensitivity of the preconfigured WAF rules (1 = fewest false positives .. 4)."
  type        = number
  default     = 1

  validation {
    condition     = var.waf_sensitivity >= 1 && var.waf_sensitivity <= 4
    error_message = "waf_sensitivity must be between 1 and 4."
  }
}

variable "rate_limits" {
  description = "Per client IP: name => { paths (full paths as browsers call them), count per interval_sec, ban_duration_sec }. Above count the address is banned (429) for ban_duration_sec. A second line behind the functions' own per-account and per-network limits (AUTH-3)."
  type = map(object({
    paths            = list(string)
    count            = number
    interval_sec     = number
    ban_duration_sec = number
  }))
}

variable "webhook_prefix" {
  description = "Path prefix of the webhook receivers. Webhook bodies are signed JSON from providers (HOOK-1, HOOK-4): the WAF's content rules are not applied to them, so a legitimate event that looks like SQL is not dropped; the function verifies each signature before reading anything."
  type        = string
  default     = "/webhooks/"
}
