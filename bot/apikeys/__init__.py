"""API keys for integrations calling ``/api/chat``: ``python -m bot.apikeys add|list|revoke``.

Keys are shown once, when created; the store keeps only their SHA-256."""
