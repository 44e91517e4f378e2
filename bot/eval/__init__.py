"""End-to-end evaluation: questions sent through the running web app as a citizen sends them.

``python -m bot.eval chat FILE.jsonl`` posts every question from a fresh conversation to
``/api/chat`` and sorts each reply into the outcome a citizen got (right cited answer, wrong
answer, clarifying buttons with or without the right service, abstain, refusal, misrouted).
"""
