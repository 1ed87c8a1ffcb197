output "topic_ids" {
  description = "Topic name => topic id (projects/P/topics/T)."
  value       = { for name, t in google_pubsub_topic.main : name => t.id }
}

output "topic_names" {
  description = "Topic name => short name, for topic IAM."
  value       = { for name, t in google_pubsub_topic.main : name => t.name }
}

output "dead_letter_topic_ids" {
  description = "Topic name => its dead-letter topic id."
  value       = { for name, t in google_pubsub_topic.dead_letter : name => t.id }
}

output "service_agent" {
  description = "IAM member of the project's Pub/Sub service agent (dead-lettering, push ID tokens)."
  value       = local.pubsub_agent
}

output "dead_letter_hold_names" {
  description = "Subscriptions holding each topic's dead-lettered messages."
  value       = [for s in google_pubsub_subscription.dead_letter_hold : s.name]
}
