output "config_map_name" {
  description = "The ConfigMap of non-secret AI settings: add it to the api's and worker's envFrom."
  value       = kubernetes_config_map_v1.ai_settings.metadata[0].name
}

output "secret_name" {
  description = "The Secret with OPENAI_API_KEY and APEX_SLACK_WEBHOOK_URL: add it to the api's and worker's envFrom."
  value       = kubernetes_secret_v1.ai_secrets.metadata[0].name
}

output "review_cron_job_name" {
  description = "The daily review CronJob."
  value       = kubernetes_cron_job_v1.ai_review.metadata[0].name
}

output "review_schedule" {
  description = "The review's cron schedule, read in review_timezone."
  value       = "${kubernetes_cron_job_v1.ai_review.spec[0].schedule} (${var.review_timezone})"
}
