variable "project_id" {
  description = "Project that owns the function."
  type        = string
}

variable "region" {
  description = "Region of the function."
  type        = string
}

variable "name" {
  description = "Function name; also the package directory functions/<name> and the Cloud Run service name."
  type        = string
}

variable "entry_point" {
  description = "Registered function name (GOOGLE_FUNCTION_TARGET), e.g. Auth."
  type        = string
}

variable "service_account_email" {
  description = "The function's own runtime service account. Never a default service account."
  type        = string
}

variable "build_service_account_id" {
  description = "Service account id (projects/P/serviceAccounts/E) that Cloud Build uses to build the source."
  type        = string
}

variable "runtime" {
  description = "Go runtime id; must support the go directive of go.mod."
  type        = string
}

variable "source_bucket" {
  description = "Bucket holding the zipped repository root."
  type        = string
}

variable "source_object" {
  description = "Object name of the zipped repository root (one per commit)."
  type        = string
}

variable "memory" {
  description = "Memory per instance, e.g. 512Mi."
  type        = string
}

variable "cpu" {
  description = "vCPUs per instance, e.g. \"1\"."
  type        = string
}

variable "min_instances" {
  description = "Instances kept warm."
  type        = number
}

variable "max_instances" {
  description = "Upper bound on instances; bounds database connections (docs/scaling.md)."
  type        = number
}

variable "concurrency" {
  description = "Requests served at once by one instance."
  type        = number
}

variable "timeout_seconds" {
  description = "Request timeout."
  type        = number
  default     = 60
}

variable "ingress" {
  description = "ALLOW_ALL for public routes, ALLOW_INTERNAL_ONLY for functions only Google services in the project call (Pub/Sub push)."
  type        = string

  validation {
    condition     = contains(["ALLOW_ALL", "ALLOW_INTERNAL_ONLY", "ALLOW_INTERNAL_AND_GCLB"], var.ingress)
    error_message = "ingress must be ALLOW_ALL, ALLOW_INTERNAL_ONLY or ALLOW_INTERNAL_AND_GCLB."
  }
}

variable "public" {
  description = "Grant roles/run.invoker to allUsers. Only for the public HTTP routes; never with an event trigger."
  type        = bool
}

variable "env" {
  description = "Plain configuration: GATEHOUSE_* variables and Go runtime settings (GOMEMLIMIT). Never a secret value."
  type        = map(string)
  default     = {}
}

variable "secret_env" {
  description = "Secret variable => Secret Manager secret id (short name). The variable receives sm://projects/P/secrets/S/versions/latest, which the function reads with its own identity; the service account must hold secretAccessor on exactly that secret."
  type        = map(string)
  default     = {}
}

variable "network" {
  description = "VPC name for Direct VPC egress."
  type        = string
}

variable "subnetwork" {
  description = "Subnet name for Direct VPC egress."
  type        = string
}

variable "network_tags" {
  description = "Network tags on egress traffic, matched by the egress firewall rules."
  type        = list(string)
}

variable "invokers" {
  description = "Name => service account e-mail granted roles/run.invoker on a private function (e.g. the identity of a Pub/Sub push subscription). A map, so for_each keys are known before the accounts exist. Empty for public functions."
  type        = map(string)
  default     = {}
}
