"""Staff accounts for the console: ``python -m bot.staff add|disable|reset-password|demo``."""
