terraform {
  # 1.9: a variable's validation may refer to other variables (the limit ordering below).
  required_version = ">= 1.9"

  required_providers {
    kubernetes = {
      source = "hashicorp/kubernetes"
      # 2.23: kubernetes_cron_job_v1's `timezone` and network policy ports' `end_port`.
      version = "~> 2.23"
    }
  }
}
