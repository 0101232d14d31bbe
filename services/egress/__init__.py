"""Outbound HTTP to addresses a client named (document URLs, webhook URLs): one host policy."""
