"""Human handoff (转人工): tickets, the queue, working hours, call-backs, ratings.

- :mod:`bot.handoff.service` — starting a handoff from a conversation (used by the actions;
  other actions go through ``actions.handoff.start_handoff`` / ``offer_handoff``)
- :mod:`bot.handoff.tickets` — the ticket life cycle (claim is one conditional UPDATE)
- :mod:`bot.handoff.desk` — the web app's side: turn interceptor, delivery, resume, clock
- :mod:`bot.handoff.hours`, :mod:`bot.handoff.callback`, :mod:`bot.handoff.summary`,
  :mod:`bot.handoff.texts`
- the rating after a ticket is taken by :mod:`bot.ratings` (好差评 for every conversation)
"""
