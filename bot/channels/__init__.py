"""Every way in to the assistant, one module each, behind one interface (:mod:`.base`).

- :mod:`bot.channels.web` — the portal's chat widget (socket.io)
- :mod:`bot.channels.api` — ``POST /api/chat``; later messages wait in :mod:`bot.channels.outbox`
- :mod:`bot.channels.wechat` — the WeChat Official Account (公众号) message API

``bot/gateway/app.py`` installs the modules listed in :data:`bot.gateway.app.CHANNELS`; adding a
channel is one module here and one line there (see ``docs/channels.md``).
"""
