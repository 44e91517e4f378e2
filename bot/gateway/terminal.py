"""``make chat``: talk to the running assistant from a terminal through ``/api/chat``."""

from __future__ import annotations

import sys
import uuid

import httpx

from bot.settings import get_settings


def main() -> None:
    settings = get_settings()
    url = f"http://{settings.host}:{settings.web_port}/api/chat"
    if not settings.demo_api_key:
        print(
            "No ZHIXUN_DEMO_API_KEY in .env: start the assistant with `make run`.", file=sys.stderr
        )
        return
    headers = {"Authorization": f"Bearer {settings.demo_api_key}"}
    sender = f"terminal-{uuid.uuid4().hex[:12]}"
    print("智询 terminal chat — type a question, Ctrl-D to quit.")
    while True:
        try:
            text = input("您> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return
        if not text:
            continue
        try:
            response = httpx.post(
                url, json={"sender": sender, "message": text}, headers=headers, timeout=30
            )
        except httpx.HTTPError:
            print(f"Cannot reach {url}: is `make run` running?", file=sys.stderr)
            continue
        if response.status_code != 200:
            print(f"[{response.status_code}] {response.json().get('detail')}")
            continue
        for message in response.json()["messages"]:
            if message.get("text"):
                print(f"智询> {message['text']}")
            for number, button in enumerate(message.get("buttons") or [], start=1):
                print(f"      [{number}] {button['title']}")


if __name__ == "__main__":
    main()
