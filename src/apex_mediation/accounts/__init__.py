"""Publishers, users, roles, console sessions, API keys and the audit log."""
