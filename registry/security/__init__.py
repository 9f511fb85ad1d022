"""Information security (等保 2.0 level 3; docs/security.md): the security log, second factor, passwords, sessions,
the database roles. Writes are services of their modules; the pages are in ``views``."""
