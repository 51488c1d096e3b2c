"""Scheduled jobs: what runs when, the record of each run, the procrastinate worker."""
