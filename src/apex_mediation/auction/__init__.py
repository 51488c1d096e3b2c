"""The auction: hybrid server-side bidding and waterfall, within a strict time budget."""
