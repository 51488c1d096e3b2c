"""The HTTP API: publisher management, authentication, health."""
