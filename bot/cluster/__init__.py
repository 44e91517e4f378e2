"""Scale-out (issue 12): N Rasa servers, N action servers and N web apps behind HAProxy, with
PostgreSQL and Redis for everything they share. ``python -m bot.services cluster`` runs it."""
