"""Outgoing notifications: email over SMTP and the messages Apex sends."""
