"""Billing: fee tiers, usage, invoices, Stripe, webhooks and dunning."""
