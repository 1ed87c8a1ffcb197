variable "project_id" {
  description = "Project that owns the topics."
  type        = string
}

variable "topics" {
  description = "Topic names. Each gets a <name>-dead-letter topic with a holding subscription."
  type        = set(string)
}

variable "subscriptions" {
  description = "Consumer subscriptions: name => topic (one of var.topics). Each dead-letters to its topic's dead-letter topic."
  type        = map(string)
  default     = {}
}

variable "max_delivery_attempts" {
  description = "Deliveries before a message moves to the dead-letter topic (5..100)."
  type        = number
  default     = 10
}
