"""Signed tree heads and offline proofs in the C2SP text formats (SPEC §7.3).

* ``c2sp.org/signed-note``: a text ending in a newline, a blank line, and
  signature lines ``— <key name> <base64(4-byte key id || signature)>``.
  Ed25519 keys (signature type 0x01); key id = SHA-256(name || 0x0A || 0x01 ||
  public key)[:4]. A verifier key is ``<name>+<8 hex key id>+<base64(0x01 ||
  public key)>``; a signing key file holds ``PRIVATE+KEY+<name>+<8 hex key
  id>+<base64(0x01 || 32-byte seed)>`` (the form Go's ``golang.org/x/mod/sumdb/note``
  reads and writes).
* ``c2sp.org/tlog-checkpoint``: the note text is the origin, the tree size
  and the base64 root hash, one per line.
* ``c2sp.org/tlog-proof@v1``: the extra data, the leaf index, the inclusion
  path (one base64 hash per line), a blank line and the checkpoint verbatim.

Malformed files are :class:`InvalidInput` (exit 2); a note that parses but
whose signature, origin or proof does not check out is
:class:`IntegrityFailure` (exit 4).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .errors import IntegrityFailure, InvalidInput
from .merkle import HASH_SIZE, ProofError, leaf_hash, verify_inclusion

ED25519 = 0x01
DEFAULT_KEY_NAME = "commitments"
PROOF_HEADER = "c2sp.org/tlog-proof@v1"
_NAME = re.compile(r"[^\s+]+")
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,18}")
_DASH = "\u2014 "
MAX_NOTE = 1 << 20
MAX_SIGNATURES = 16


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise InvalidInput(f"{what} is not base64") from None


def check_key_name(name: str) -> str:
    if not _NAME.fullmatch(name) or any(ord(c) < 0x20 for c in name):
        raise InvalidInput(f"key name {name!r}: give a non-empty name without spaces or '+'")
    return name


def key_id(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([ED25519]) + public).digest()[:4]


@dataclass(frozen=True)
class VerifierKey:
    """A public key by name: what an auditor keeps."""

    name: str
    public: bytes

    @property
    def id(self) -> bytes:
        return key_id(self.name, self.public)

    def __str__(self) -> str:
        return f"{self.name}+{self.id.hex()}+{b64(bytes([ED25519]) + self.public)}"

    @staticmethod
    def parse(text: str) -> VerifierKey:
        """A verifier key string ``name+hex id+base64 key``."""
        parts = text.strip().split("+", 2)  # base64 may hold '+'; name and id do not
        if len(parts) != 3 or not re.fullmatch(r"[0-9a-f]{8}", parts[1]):
            raise InvalidInput("--public-key: not a verifier key (NAME+<8 hex>+<base64>)")
        name = check_key_name(parts[0])
        raw = unb64(parts[2], "--public-key: the key")
        if len(raw) != 33 or raw[0] != ED25519:
            raise InvalidInput("--public-key: not an Ed25519 verifier key")
        key = VerifierKey(name, raw[1:])
        if key.id.hex() != parts[1]:
            raise InvalidInput("--public-key: the key id does not match the name and key")
        return key

    def verify(self, signature: bytes, text: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public).verify(signature, text)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class SigningKey:
    name: str
    private: Ed25519PrivateKey

    @staticmethod
    def generate(name: str = DEFAULT_KEY_NAME) -> SigningKey:
        return SigningKey(check_key_name(name), Ed25519PrivateKey.generate())

    @property
    def verifier(self) -> VerifierKey:
        public = self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return VerifierKey(self.name, public)

    def encode(self) -> str:
        """The key file's text (one line)."""
        seed = self.private.private_bytes_raw()
        return f"PRIVATE+KEY+{self.name}+{self.verifier.id.hex()}+{b64(bytes([ED25519]) + seed)}\n"

    @staticmethod
    def parse(text: str) -> SigningKey:
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise InvalidInput("--key: not a signing key written by 'commitments keys generate'")
        name = check_key_name(parts[2])
        raw = unb64(parts[4], "--key: the key")
        if len(raw) != 33 or raw[0] != ED25519:
            raise InvalidInput("--key: not an Ed25519 signing key")
        key = SigningKey(name, Ed25519PrivateKey.from_private_bytes(raw[1:]))
        if key.verifier.id.hex() != parts[3]:
            raise InvalidInput("--key: the key id does not match the name and key")
        return key

    def sign(self, text: str) -> str:
        """A signed note of ``text`` (which ends with a newline)."""
        if not text.endswith("\n"):
            raise ValueError("a note text ends with a newline")
        signature = self.private.sign(text.encode("utf-8"))
        return f"{text}\n{_DASH}{self.name} {b64(self.verifier.id + signature)}\n"


def open_note(note: str, key: VerifierKey, what: str = "the checkpoint") -> str:
    """The text of a signed note, once ``key``'s signature on it verifies."""
    if len(note) > MAX_NOTE or any(ord(c) < 0x20 and c != "\n" for c in note):
        raise InvalidInput(f"{what} is not a signed note (control characters, or too long)")
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n"):
        raise InvalidInput(f"{what} is not a signed note (text, blank line, signatures)")
    text, lines = note[: cut + 1], note[cut + 2 : -1].split("\n")
    if not 0 < len(lines) <= MAX_SIGNATURES or not all(x.startswith(_DASH) for x in lines):
        raise InvalidInput(f"{what} is not a signed note (each signature line starts with '— ')")
    verified = False
    for line in lines:
        name, _, sig = line[len(_DASH) :].partition(" ")
        try:
            raw = base64.b64decode(sig.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            raw = b""
        if name != key.name or raw[:4] != key.id:
            continue  # another key's signature: ignored, as signed-note says
        if not key.verify(raw[4:], text.encode("utf-8")):
            raise IntegrityFailure(f"{what}: the signature of key {key.name} does not verify")
        verified = True
    if not verified:
        raise IntegrityFailure(f"{what} is not signed by key {key.name}+{key.id.hex()}")
    return text


@dataclass(frozen=True)
class Checkpoint:
    """A signed tree head's text: origin, size, root."""

    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{b64(self.root)}\n"

    @staticmethod
    def parse(text: str, what: str = "the checkpoint") -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "" or not lines[0]:
            raise IntegrityFailure(f"{what} is not a tree head (origin, size, root)")
        if not _DECIMAL.fullmatch(lines[1]):
            raise IntegrityFailure(f"{what}: the tree size is not a decimal number")
        try:
            root = base64.b64decode(lines[2].encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            root = b""
        if len(root) != HASH_SIZE:
            raise IntegrityFailure(f"{what}: the root is not a base64 SHA-256 hash")
        return Checkpoint(lines[0], int(lines[1]), root)


def read_checkpoint(note: str, key: VerifierKey, what: str = "the checkpoint") -> Checkpoint:
    """A checkpoint whose signature by ``key`` verifies."""
    return Checkpoint.parse(open_note(note, key, what), what)


@dataclass(frozen=True)
class TlogProof:
    """A C2SP tlog-proof: an entry's index, inclusion path, checkpoint and extra data."""

    index: int
    path: list[bytes]
    checkpoint: str  # the signed note, verbatim
    extra: bytes | None = None

    def text(self) -> str:
        lines = [PROOF_HEADER]
        if self.extra is not None:
            lines.append(f"extra {b64(self.extra)}")
        lines.append(f"index {self.index}")
        lines += [b64(h) for h in self.path]
        return "\n".join(lines) + "\n\n" + self.checkpoint

    @staticmethod
    def parse(text: str) -> TlogProof:
        what = "the proof"
        head, sep, checkpoint = text.partition("\n\n")
        lines = head.split("\n")
        if not sep or lines[0] != PROOF_HEADER:
            raise InvalidInput(f"{what} is not a {PROOF_HEADER} file")
        lines = lines[1:]
        extra = None
        if lines and lines[0].startswith("extra "):
            extra = unb64(lines.pop(0)[6:], f"{what}: the extra data")
        if not lines or not lines[0].startswith("index ") or not _DECIMAL.fullmatch(lines[0][6:]):
            raise InvalidInput(f"{what}: no 'index N' line")
        index = int(lines.pop(0)[6:])
        path = [unb64(x, f"{what}: a hash of the path") for x in lines]
        if any(len(h) != HASH_SIZE for h in path):
            raise InvalidInput(f"{what}: a hash of the path is not 32 bytes")
        return TlogProof(index, path, checkpoint, extra)

    def verify(self, key: VerifierKey) -> Checkpoint:
        """Check the checkpoint's signature and that the extra data (the event's
        canonical bytes) is the leaf at ``index`` of the signed tree."""
        tree = read_checkpoint(self.checkpoint, key, "the proof's checkpoint")
        if self.extra is None:
            raise IntegrityFailure("the proof carries no event (no 'extra' line)")
        try:
            verify_inclusion(self.index, tree.size, leaf_hash(self.extra), self.path, tree.root)
        except ProofError as exc:
            raise IntegrityFailure(f"the proof does not check out: {exc}") from None
        return tree
