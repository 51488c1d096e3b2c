"""Bounded run-time tuning: allow-listed knobs, their values in PostgreSQL, and the per-process
store that applies them to the auction and the SDK edge."""
