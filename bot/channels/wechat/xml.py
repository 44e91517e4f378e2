"""WeChat's XML: reading pushed messages safely and writing passive replies.

Parsing uses defusedxml with DTDs forbidden: no entity expansion (billion laughs), no external
entities (XXE), no network or file access, whatever the body says.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

_OPENID = re.compile(r"^[A-Za-z0-9_-]{6,64}$")
_MAX_FIELD_CHARS = 4096


class BadXml(ValueError):
    """Not a WeChat message we can read; ``str()`` is safe to return to the sender."""


def parse_fields(body: bytes) -> dict[str, str]:
    """The ``<xml>`` element's children as a flat dict (WeChat messages are one level deep)."""
    try:
        root: Element = fromstring(body, forbid_dtd=True, forbid_entities=True)
    except DefusedXmlException as error:
        raise BadXml("DTDs and entities are not allowed") from error
    except (ParseError, ValueError) as error:
        raise BadXml("malformed XML") from error
    if root.tag != "xml":
        raise BadXml("root element must be <xml>")
    fields: dict[str, str] = {}
    for child in root:
        if len(child):
            continue  # nested structures (e.g. ScanCodeInfo) are not needed
        value = (child.text or "").strip()
        if len(value) > _MAX_FIELD_CHARS:
            raise BadXml(f"{child.tag} is too long")
        fields[child.tag] = value
    return fields


@dataclass(frozen=True)
class Inbound:
    """A message or event pushed by WeChat, after the checks."""

    to_user: str  # the account's original ID (gh_…)
    openid: str  # the citizen (FromUserName)
    create_time: int
    msg_type: str
    msg_id: str | None
    content: str = ""
    event: str = ""
    event_key: str = ""
    recognition: str = ""
    media_id: str = ""
    menu_id: str = ""  # bizmsgmenuid: the citizen tapped one of our options

    @property
    def dedup_key(self) -> str:
        """MsgId for messages; FromUserName + CreateTime (+ event) for events."""
        if self.msg_id:
            return f"msg:{self.msg_id}"
        return f"event:{self.openid}:{self.create_time}:{self.event}"


def read_inbound(fields: dict[str, str]) -> Inbound:
    openid = fields.get("FromUserName", "")
    if not _OPENID.match(openid):
        raise BadXml("FromUserName is not an openid")
    create_time = fields.get("CreateTime", "")
    if not create_time.isdigit() or len(create_time) > 12:
        raise BadXml("CreateTime is not a timestamp")
    msg_type = fields.get("MsgType", "").lower()
    if not msg_type or len(msg_type) > 32:
        raise BadXml("MsgType is missing")
    msg_id = fields.get("MsgId") or None
    if msg_id is not None and (not msg_id.isdigit() or len(msg_id) > 32):
        raise BadXml("MsgId is not a number")
    if msg_type != "event" and msg_id is None:
        raise BadXml("MsgId is missing")
    return Inbound(
        to_user=fields.get("ToUserName", ""),
        openid=openid,
        create_time=int(create_time),
        msg_type=msg_type,
        msg_id=msg_id,
        content=fields.get("Content", ""),
        event=fields.get("Event", "").lower(),
        event_key=fields.get("EventKey", ""),
        recognition=fields.get("Recognition", ""),
        media_id=fields.get("MediaId", ""),
        menu_id=fields.get("bizmsgmenuid", ""),
    )


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_reply(to_openid: str, from_account: str, content: str, now: int | None = None) -> str:
    """A passive text reply (被动回复文本消息)."""
    return (
        f"<xml><ToUserName>{_cdata(to_openid)}</ToUserName>"
        f"<FromUserName>{_cdata(from_account)}</FromUserName>"
        f"<CreateTime>{now or int(time.time())}</CreateTime>"
        f"<MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{_cdata(content)}</Content></xml>"
    )
