"""Signed beacons, dedupe and the ingest pipeline."""
