"""Reporting: rollups in ClickHouse, the report queries, and the typed results behind the API.

`params` parses what a report is asked for, `sql` holds every query, `service` runs them and
derives the ratios, `export` writes CSV. Money is integer USD micros until the API edge.
"""
