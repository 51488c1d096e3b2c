# Names of the settings these feed are the app's environment variables (src/apex_mediation/
# settings.py); main.tf maps each variable to its key.

variable "namespace" {
  description = "Namespace the app runs in; every resource of this module goes there."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.namespace)) && var.namespace != "default"
    error_message = "namespace must be a DNS label and not \"default\"."
  }
}

variable "image" {
  description = "The app image (the same as the api and worker), pinned by tag or digest."
  type        = string

  validation {
    condition     = length(regexall(":latest$", var.image)) == 0 && can(regex("[:@]", var.image))
    error_message = "image must be pinned to a tag or digest, not :latest or untagged."
  }
}

variable "app_secret_name" {
  description = "Existing Secret with the app's own settings (DATABASE_URL, APEX_SECRET_KEY, ...); the review job reads it."
  type        = string
}

variable "labels" {
  description = "Extra labels for every resource this module creates."
  type        = map(string)
  default     = {}
}

# --- The budget ------------------------------------------------------------------------------

variable "monthly_budget_dollars" {
  description = "APEX_AI_MONTHLY_BUDGET_DOLLARS: the OpenAI budget per calendar month, in whole dollars."
  type        = number
  default     = 100

  validation {
    condition     = var.monthly_budget_dollars > 0 && floor(var.monthly_budget_dollars) == var.monthly_budget_dollars
    error_message = "monthly_budget_dollars must be a whole number of dollars above 0."
  }
}

variable "soft_limit_percent" {
  description = "APEX_AI_SOFT_LIMIT_PERCENT: one notice to the platform and finance addresses when spend crosses it."
  type        = number
  default     = 50

  validation {
    condition     = var.soft_limit_percent > 0 && var.soft_limit_percent < var.warning_percent && floor(var.soft_limit_percent) == var.soft_limit_percent
    error_message = "soft_limit_percent must be a whole number above 0 and below warning_percent."
  }
}

variable "warning_percent" {
  description = "APEX_AI_WARNING_PERCENT: the critical warning."
  type        = number
  default     = 80

  validation {
    condition     = var.warning_percent <= var.hard_limit_percent && floor(var.warning_percent) == var.warning_percent
    error_message = "warning_percent must be a whole number not above hard_limit_percent."
  }
}

variable "hard_limit_percent" {
  description = "APEX_AI_HARD_LIMIT_PERCENT: past it every AI call is refused."
  type        = number
  default     = 100

  validation {
    condition     = var.hard_limit_percent > 0 && var.hard_limit_percent <= 100 && floor(var.hard_limit_percent) == var.hard_limit_percent
    error_message = "hard_limit_percent must be a whole number from 1 to 100."
  }
}

# --- Feature flags (the environment's defaults; operators override them at run time) -------

variable "enable_ai_automation" {
  description = "ENABLE_AI_AUTOMATION: the master switch; no AI call without it."
  type        = bool
  default     = false
}

variable "enable_sales_ai_optimization" {
  description = "ENABLE_SALES_AI_OPTIMIZATION: sales automation (rollout week 1)."
  type        = bool
  default     = false
}

variable "enable_growth_ai_analytics" {
  description = "ENABLE_GROWTH_AI_ANALYTICS: growth analytics (rollout week 2)."
  type        = bool
  default     = false
}

variable "enable_self_evolving_ai" {
  description = "ENABLE_SELF_EVOLVING_AI: the self-evolving system (rollout week 3)."
  type        = bool
  default     = false
}

# --- OpenAI ------------------------------------------------------------------------------------

variable "openai_api_key" {
  description = "OPENAI_API_KEY, kept in the module's Secret; empty reads as unset (every AI call is refused as unavailable)."
  type        = string
  default     = ""
  sensitive   = true
}

variable "openai_base_url" {
  description = "OPENAI_BASE_URL."
  type        = string
  default     = "https://api.openai.com/v1"

  validation {
    condition     = startswith(var.openai_base_url, "https://")
    error_message = "openai_base_url must be an https:// URL (the network policy allows TCP 443 only)."
  }
}

variable "openai_model" {
  description = "APEX_OPENAI_MODEL."
  type        = string
  default     = "gpt-4o-mini"
}

# --- Who hears about it -----------------------------------------------------------------------

variable "platform_email" {
  description = "APEX_PLATFORM_EMAIL: budget notices and the daily review."
  type        = string

  validation {
    condition     = can(regex("^[^@\\s]+@[^@\\s]+$", var.platform_email))
    error_message = "platform_email must be an email address."
  }
}

variable "finance_email" {
  description = "APEX_FINANCE_EMAIL: budget notices and the daily review."
  type        = string

  validation {
    condition     = can(regex("^[^@\\s]+@[^@\\s]+$", var.finance_email))
    error_message = "finance_email must be an email address."
  }
}

variable "slack_webhook_url" {
  description = "APEX_SLACK_WEBHOOK_URL, kept in the module's Secret; empty: Slack is skipped."
  type        = string
  default     = ""
  sensitive   = true

  validation {
    condition     = var.slack_webhook_url == "" || startswith(var.slack_webhook_url, "https://")
    error_message = "slack_webhook_url must be empty or an https:// URL."
  }
}

# --- The daily review -------------------------------------------------------------------------

variable "review_timezone" {
  description = "APEX_AI_REVIEW_TIMEZONE, and the CronJob's timeZone: an IANA name such as Europe/Berlin."
  type        = string
  default     = "UTC"
}

variable "review_hour" {
  description = "APEX_AI_REVIEW_HOUR: the local hour (0-23) the review is sent."
  type        = number
  default     = 9

  validation {
    condition     = var.review_hour >= 0 && var.review_hour <= 23 && floor(var.review_hour) == var.review_hour
    error_message = "review_hour must be a whole hour from 0 to 23."
  }
}

variable "run_as_user" {
  description = "The non-root UID (and GID) the review job runs as."
  type        = number
  default     = 10001

  validation {
    condition     = var.run_as_user > 0
    error_message = "run_as_user must not be root (0)."
  }
}

# --- Egress -----------------------------------------------------------------------------------

variable "private_cidrs" {
  description = "The cluster's and VPC's own ranges: excluded from the public HTTPS rule, open on every port to the AI pods (PostgreSQL, Redis, ClickHouse, DNS)."
  type        = list(string)
  default     = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]

  validation {
    condition     = alltrue([for c in var.private_cidrs : can(cidrhost(c, 0))])
    error_message = "private_cidrs must be CIDR blocks."
  }
}

variable "smtp_ports" {
  description = "Public TCP ports the AI pods may also reach for outgoing mail (the worker's outbox, the review's email); [] if mail goes through a relay inside private_cidrs."
  type        = list(number)
  default     = [465, 587]
}

variable "deny_api_public_https" {
  description = "Create the api policy that blocks the api pods' TCP 443 to the public internet. Off by default: the api's auction calls bidders over public HTTPS; see the README."
  type        = bool
  default     = false
}
