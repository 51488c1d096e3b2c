"""Backups of both stores and their restore into empty ones: PostgreSQL with pg_dump's custom
format, ClickHouse table by table in its Native format, and a manifest with checksums of the
files and of every table's rows, checked again after a restore."""
