# The operations side of the AI cost controls (docs/ai.md): the settings as a ConfigMap and a
# Secret whose keys are the app's environment variable names, the daily review as a CronJob,
# and network policies that keep OpenAI traffic to the pods that should make it.

locals {
  base_labels = merge(var.labels, {
    "app.kubernetes.io/name"       = "apex-mediation"
    "app.kubernetes.io/part-of"    = "apex-mediation"
    "app.kubernetes.io/managed-by" = "terraform"
  })

  # The pods that call OpenAI: the worker (the AI features' jobs) and the review job.
  ai_components = ["worker", "ai-review"]
}

resource "kubernetes_config_map_v1" "ai_settings" {
  metadata {
    name      = "apex-ai-settings"
    namespace = var.namespace
    labels    = local.base_labels
  }

  data = {
    ENABLE_AI_AUTOMATION           = tostring(var.enable_ai_automation)
    ENABLE_SALES_AI_OPTIMIZATION   = tostring(var.enable_sales_ai_optimization)
    ENABLE_GROWTH_AI_ANALYTICS     = tostring(var.enable_growth_ai_analytics)
    ENABLE_SELF_EVOLVING_AI        = tostring(var.enable_self_evolving_ai)
    OPENAI_BASE_URL                = var.openai_base_url
    APEX_OPENAI_MODEL              = var.openai_model
    APEX_AI_MONTHLY_BUDGET_DOLLARS = tostring(var.monthly_budget_dollars)
    APEX_AI_SOFT_LIMIT_PERCENT     = tostring(var.soft_limit_percent)
    APEX_AI_WARNING_PERCENT        = tostring(var.warning_percent)
    APEX_AI_HARD_LIMIT_PERCENT     = tostring(var.hard_limit_percent)
    APEX_AI_REVIEW_TIMEZONE        = var.review_timezone
    APEX_AI_REVIEW_HOUR            = tostring(var.review_hour)
    APEX_PLATFORM_EMAIL            = var.platform_email
    APEX_FINANCE_EMAIL             = var.finance_email
  }
}

resource "kubernetes_secret_v1" "ai_secrets" {
  metadata {
    name      = "apex-ai-secrets"
    namespace = var.namespace
    labels    = local.base_labels
  }

  type = "Opaque"

  # An empty APEX_SLACK_WEBHOOK_URL reads as unset: Slack is skipped.
  data = {
    OPENAI_API_KEY         = var.openai_api_key
    APEX_SLACK_WEBHOOK_URL = var.slack_webhook_url
  }
}

# The daily review at review_hour in review_timezone. The serving process also checks every
# five minutes and the review is sent once per local day, so the job and the app never both
# send it; the job is what makes it happen when no api pod has background jobs on.
resource "kubernetes_cron_job_v1" "ai_review" {
  metadata {
    name      = "apex-ai-review"
    namespace = var.namespace
    labels    = merge(local.base_labels, { "app.kubernetes.io/component" = "ai-review" })
  }

  spec {
    schedule                      = "0 ${var.review_hour} * * *"
    timezone                      = var.review_timezone
    concurrency_policy            = "Forbid"
    starting_deadline_seconds     = 3600
    successful_jobs_history_limit = 3
    failed_jobs_history_limit     = 3

    job_template {
      metadata {
        labels = merge(local.base_labels, { "app.kubernetes.io/component" = "ai-review" })
      }

      spec {
        backoff_limit              = 2
        active_deadline_seconds    = 900
        ttl_seconds_after_finished = 86400

        template {
          metadata {
            labels = merge(local.base_labels, { "app.kubernetes.io/component" = "ai-review" })
          }

          spec {
            restart_policy                  = "Never"
            automount_service_account_token = false

            security_context {
              run_as_non_root = true
              run_as_user     = var.run_as_user
              run_as_group    = var.run_as_user
              fs_group        = var.run_as_user

              seccomp_profile {
                type = "RuntimeDefault"
              }
            }

            container {
              name              = "ai-review"
              image             = var.image
              image_pull_policy = "Always"
              command           = ["apex"]
              args              = ["ai", "review"]

              env_from {
                config_map_ref {
                  name = kubernetes_config_map_v1.ai_settings.metadata[0].name
                }
              }

              env_from {
                secret_ref {
                  name = kubernetes_secret_v1.ai_secrets.metadata[0].name
                }
              }

              env_from {
                secret_ref {
                  name = var.app_secret_name
                }
              }

              # The root filesystem is read-only: the data directory goes to the scratch volume.
              env {
                name  = "APEX_DATA_DIR"
                value = "/tmp/apex"
              }

              resources {
                requests = {
                  cpu    = "100m"
                  memory = "256Mi"
                }
                limits = {
                  cpu    = "1"
                  memory = "1Gi"
                }
              }

              security_context {
                allow_privilege_escalation = false
                privileged                 = false
                read_only_root_filesystem  = true
                run_as_non_root            = true
                run_as_user                = var.run_as_user

                capabilities {
                  drop = ["ALL"]
                }
              }

              volume_mount {
                name       = "tmp"
                mount_path = "/tmp"
              }
            }

            volume {
              name = "tmp"
              empty_dir {
                size_limit = "256Mi"
              }
            }
          }
        }
      }
    }
  }
}

# The worker and the review job: DNS, anything inside private_cidrs (the databases), HTTPS to
# the public internet (OpenAI, Slack, Stripe) and mail on smtp_ports. Selecting a pod for
# egress denies it everything not listed here. NetworkPolicy matches addresses, not host
# names: "OpenAI only" cannot be said here, so this is "public HTTPS only".
resource "kubernetes_network_policy_v1" "ai_egress" {
  metadata {
    name      = "apex-ai-egress"
    namespace = var.namespace
    labels    = local.base_labels
  }

  spec {
    pod_selector {
      match_labels = {
        "app.kubernetes.io/name" = "apex-mediation"
      }
      match_expressions {
        key      = "app.kubernetes.io/component"
        operator = "In"
        values   = local.ai_components
      }
    }

    policy_types = ["Egress"]

    egress {
      ports {
        port     = "53"
        protocol = "UDP"
      }
      ports {
        port     = "53"
        protocol = "TCP"
      }
    }

    egress {
      dynamic "to" {
        for_each = var.private_cidrs
        content {
          ip_block {
            cidr = to.value
          }
        }
      }
    }

    egress {
      to {
        ip_block {
          cidr   = "0.0.0.0/0"
          except = var.private_cidrs
        }
      }
      ports {
        port     = "443"
        protocol = "TCP"
      }
      dynamic "ports" {
        for_each = var.smtp_ports
        content {
          port     = tostring(ports.value)
          protocol = "TCP"
        }
      }
    }
  }
}

# Optional: the api pods may not open TCP 443 to the public internet (so no OpenAI call can
# leave them). Still open: private_cidrs on every port, and the public IPv4 internet on every
# UDP port and every TCP port but 443 (IPv6 egress is dropped). Off by default because the
# api's auction calls bidders over public HTTPS, which this would cut.
resource "kubernetes_network_policy_v1" "api_no_public_https" {
  count = var.deny_api_public_https ? 1 : 0

  metadata {
    name      = "apex-api-no-public-https"
    namespace = var.namespace
    labels    = local.base_labels
  }

  spec {
    pod_selector {
      match_labels = {
        "app.kubernetes.io/name"      = "apex-mediation"
        "app.kubernetes.io/component" = "api"
      }
    }

    policy_types = ["Egress"]

    egress {
      dynamic "to" {
        for_each = var.private_cidrs
        content {
          ip_block {
            cidr = to.value
          }
        }
      }
    }

    egress {
      to {
        ip_block {
          cidr   = "0.0.0.0/0"
          except = var.private_cidrs
        }
      }
      ports {
        port     = "1"
        end_port = 442
        protocol = "TCP"
      }
      ports {
        port     = "444"
        end_port = 65535
        protocol = "TCP"
      }
      ports {
        protocol = "UDP"
      }
    }
  }
}
