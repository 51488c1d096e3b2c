"""What publishers configure: apps, placements (bidding and waterfall lines), network accounts."""
