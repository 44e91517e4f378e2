"""The WeChat Official Account (公众号) channel; ``python -m bot.channels.wechat menu``
publishes the custom menu. See README ("Connecting a WeChat Official Account")."""

from __future__ import annotations

from bot.channels.wechat.channel import NAME, WeChatChannel, conversation_id, install

__all__ = ["NAME", "WeChatChannel", "conversation_id", "install"]
