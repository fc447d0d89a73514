"""Protection of personal data and secrets at rest.

National ID numbers, certificate numbers (:mod:`app.sealed`), department signing secrets and
webhook bodies (which carry the full ID number) are stored encrypted with AES-256-GCM under a
key derived from ``ONEEXAM_PII_KEY``. ID numbers are found again through a blind index: an
HMAC-SHA256 of the normalised number under a second derived key, so equality lookups work
without the clear number ever reaching the database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.config import ConfigError, Settings

log = logging.getLogger("oneexam.crypto")

_VERSION = "v1"
KEY_FILE_NAME = "pii.key"


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"oneexam", info=purpose).derive(master)


class Vault:
    """Encrypts, decrypts and blind-indexes sensitive values with one master key."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) < 32:
            raise ConfigError("ONEEXAM_PII_KEY must decode to at least 32 bytes")
        self._aead = AESGCM(_derive(master_key, b"encryption"))
        self._index_key = _derive(master_key, b"blind-index")
        self._subkey_root = _derive(master_key, b"subkeys")

    def subkey(self, purpose: str) -> bytes:
        """A key of its own for another use (e.g. ``audit-chain``), derived from the master key."""
        return _derive(self._subkey_root, purpose.encode())

    def encrypt(self, plaintext: bytes, *, context: str) -> str:
        """Ciphertext as text; ``context`` binds it to its use (it must match on decrypt)."""
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext, context.encode())
        return f"{_VERSION}:{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, token: str, *, context: str) -> bytes:
        version, _, payload = token.partition(":")
        if version != _VERSION:
            raise ValueError("unknown ciphertext version")
        raw = base64.b64decode(payload)
        try:
            return self._aead.decrypt(raw[:12], raw[12:], context.encode())
        except InvalidTag:
            raise ValueError("ciphertext does not authenticate under this key") from None

    def encrypt_text(self, text: str, *, context: str) -> str:
        return self.encrypt(text.encode(), context=context)

    def decrypt_text(self, token: str, *, context: str) -> str:
        return self.decrypt(token, context=context).decode()

    def blind_index(self, value: str, *, context: str) -> str:
        return hmac.new(self._index_key, f"{context}:{value}".encode(), hashlib.sha256).hexdigest()


def generate_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def derive_key(master: bytes, purpose: str) -> bytes:
    """A 32-byte key for ``purpose`` from a master key (HKDF-SHA256)."""
    return _derive(master, purpose.encode())


def decode_key(text: str, *, variable: str = "ONEEXAM_PII_KEY") -> bytes:
    """The bytes of a base64 key from the environment, at least 32 of them."""
    try:
        raw = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except ValueError:
        raise ConfigError(f"{variable} is not base64 (generate one with: oneexam keygen)") from None
    if len(raw) < 32:
        raise ConfigError(f"{variable} must decode to at least 32 bytes")
    return raw


def load_vault(settings: Settings, *, create: bool = True) -> Vault:
    """The vault for this deployment.

    With ``ONEEXAM_PII_KEY`` set, that key. On the embedded SQLite default without it, a key is
    generated once into the data folder (mode 0600) and reused; on PostgreSQL a missing key is
    a configuration error, because several processes must share one key.
    """
    if settings.pii_key is not None:
        return Vault(decode_key(settings.pii_key.get_secret_value()))
    if not settings.is_sqlite:
        raise ConfigError(
            "ONEEXAM_PII_KEY is required with PostgreSQL: every API replica and worker must "
            "share one key (generate one with: oneexam keygen)"
        )
    path = settings.data_dir / KEY_FILE_NAME
    if path.exists():
        return Vault(decode_key(path.read_text()))
    if not create:
        raise ConfigError(f"no ONEEXAM_PII_KEY and no key file at {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write beside it, then link into place: the link either creates the file whole or fails
    # because another process got there first, in which case its key is the one to use.
    tmp = path.with_name(f".{KEY_FILE_NAME}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(generate_key() + "\n")
    try:
        os.link(tmp, path)
        log.warning("generated a new PII encryption key", extra={"key_file": str(path)})
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return Vault(decode_key(path.read_text()))
