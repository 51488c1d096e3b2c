"""Sales automation: journeys, scores, the trial playbook, conversions."""
