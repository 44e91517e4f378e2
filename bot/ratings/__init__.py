"""好差评 ratings (issue 11): five levels in every channel, the optional comment, and the
follow-up (回访 → 整改) of every 差评.

- :mod:`bot.ratings.parsing` — levels, skips (moved here from bot/handoff/rating.py)
- :mod:`bot.ratings.models` / :mod:`bot.ratings.store` — ``ratings``, ``followups``,
  ``rating_prompts`` (migration ``0007``)
- :mod:`bot.ratings.followups` — the follow-up life cycle (the console's page is
  :mod:`bot.console.followups`)
- :mod:`bot.ratings.ending` — a cited answer, the bot's goodbye
- :mod:`bot.ratings.desk` — the dialogue in the web app's turn path, and the idle prompt
- :mod:`bot.ratings.texts` — what it says
"""
