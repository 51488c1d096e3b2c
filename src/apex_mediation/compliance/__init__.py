"""Personal data: exports, account and end-user erasure, retention, and how IPs are kept."""
