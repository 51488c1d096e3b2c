"""Network adapters: each says how one network takes part, as pure translation functions."""
