"""The published SDKs' wire formats, each a thin translation to and from the canonical model."""
