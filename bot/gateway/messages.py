"""Citizen text and bot replies as they cross the gateway: defined with the channel interface
(:mod:`bot.channels.base`), named here too for the modules that import them from the gateway."""

from __future__ import annotations

from bot.channels.base import BotMessage, Button, InvalidMessage, clean_text

__all__ = ["BotMessage", "Button", "InvalidMessage", "clean_text"]
