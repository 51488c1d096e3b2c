"""The named networks, one module each; `registry.py` lists them."""
