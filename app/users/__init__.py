"""People who use the console: user accounts, passwords, sign-in sessions (docs/api.md §12)."""
