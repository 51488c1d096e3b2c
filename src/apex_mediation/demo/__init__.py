"""Demo data for a first run: a publisher, an app, network accounts and placements."""
