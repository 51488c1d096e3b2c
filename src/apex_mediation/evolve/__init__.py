"""The self-evolving system: proposals from the system's own measurements, applied only when
allow-listed and approved, then measured, and kept or rolled back."""
