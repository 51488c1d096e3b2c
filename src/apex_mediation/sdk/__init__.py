"""The server side of the published SDKs: wire formats, signed config and its keys."""
