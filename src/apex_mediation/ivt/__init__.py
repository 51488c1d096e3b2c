"""Invalid traffic: rules, lists, scores."""
