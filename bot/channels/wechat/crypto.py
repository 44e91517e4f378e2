"""WeChat's message signatures and safe-mode encryption (消息加解密).

- URL signature: SHA-1 over the sorted token, timestamp and nonce (every request).
- Safe mode (``encrypt_type=aes``): AES-256-CBC, key = base64(EncodingAESKey + "="), IV = the
  key's first 16 bytes, PKCS#7 padding to 32-byte blocks; the plaintext is 16 random bytes,
  the message length (4 bytes, network order), the message, then the AppID. ``msg_signature``
  is SHA-1 over the sorted token, timestamp, nonce and the ciphertext.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32


class SignatureError(ValueError):
    """The request is not signed with our token."""


class DecryptError(ValueError):
    """The ciphertext is not ours: bad base64, padding, length or AppID."""


def signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def check_signature(expected: str, *parts: str) -> None:
    if not hmac.compare_digest(signature(*parts).encode(), expected.encode()):
        raise SignatureError("signature mismatch")


def aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte key from the 43-character EncodingAESKey."""
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except (binascii.Error, ValueError) as error:
        raise ValueError("EncodingAESKey must be 43 base64 characters") from error
    if len(key) != 32:
        raise ValueError("EncodingAESKey must be 43 base64 characters")
    return key


class MessageCrypto:
    def __init__(self, token: str, encoding_aes_key: str, app_id: str) -> None:
        self.token = token
        self.key = aes_key(encoding_aes_key)
        self.app_id = app_id

    def _cipher(self) -> Cipher:
        return Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16]))

    def encrypt(self, plaintext: str, random_prefix: bytes | None = None) -> str:
        body = plaintext.encode()
        raw = (
            (random_prefix or os.urandom(16))
            + struct.pack("!I", len(body))
            + body
            + self.app_id.encode()
        )
        pad = BLOCK - len(raw) % BLOCK
        raw += bytes([pad]) * pad
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(raw) + encryptor.finalize()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            data = base64.b64decode(ciphertext, validate=True)
        except (binascii.Error, ValueError) as error:
            raise DecryptError("not base64") from error
        if not data or len(data) % 16:
            raise DecryptError("not whole AES blocks")
        decryptor = self._cipher().decryptor()
        raw = decryptor.update(data) + decryptor.finalize()
        pad = raw[-1]
        if not 1 <= pad <= BLOCK or raw[-pad:] != bytes([pad]) * pad or len(raw) < 20 + pad:
            raise DecryptError("bad padding")
        content = raw[16:-pad]
        (length,) = struct.unpack("!I", content[:4])
        if length > len(content) - 4:
            raise DecryptError("bad length")
        message, app_id = content[4 : 4 + length], content[4 + length :]
        if not hmac.compare_digest(app_id, self.app_id.encode()):
            raise DecryptError("message for another AppID")
        try:
            return message.decode()
        except UnicodeDecodeError as error:
            raise DecryptError("not UTF-8") from error

    def check_message(self, msg_signature: str, timestamp: str, nonce: str, encrypted: str) -> str:
        """Verify ``msg_signature`` over the ciphertext, then decrypt it."""
        check_signature(msg_signature, self.token, timestamp, nonce, encrypted)
        return self.decrypt(encrypted)

    def seal(self, plaintext: str, timestamp: str, nonce: str) -> str:
        """An encrypted passive reply: the XML envelope WeChat expects in safe mode."""
        encrypted = self.encrypt(plaintext)
        sign = signature(self.token, timestamp, nonce, encrypted)
        return (
            f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt>"
            f"<MsgSignature><![CDATA[{sign}]]></MsgSignature>"
            f"<TimeStamp>{timestamp}</TimeStamp>"
            f"<Nonce><![CDATA[{nonce}]]></Nonce></xml>"
        )
