"""The unanswered-question loop (issue 11): questions the bot could not answer, grouped for
staff, resolved by improving the policy documents.

- :mod:`bot.review.recording` — what the actions record (abstain, clarify without a pick,
  handoff after a policy question), masked
- :mod:`bot.review.grouping` — incremental grouping by meaning
- :mod:`bot.review.queue` — listing and resolving groups (audited)
- :mod:`bot.review.editing` — the Markdown edits (常见问法, 常见问题), validated
- :mod:`bot.review.rebuild` — the incremental index rebuild with progress
- :mod:`bot.review.models` — the ``unanswered`` and ``unanswered_groups`` tables
"""
