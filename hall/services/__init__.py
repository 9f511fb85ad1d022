"""Writes of the online hall: accounts and SMS codes, applications, declarations, notifications."""
