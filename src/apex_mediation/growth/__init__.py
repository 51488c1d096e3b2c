"""The growth engine: health scores, lifecycle stages, interventions and opportunities."""
