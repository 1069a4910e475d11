"""The shared vocabulary of the intel modules: indicator kinds, their evidence families, and the records that
travel between the store, the exchange formats (STIX, MISP) and the matcher.

Why a vocabulary of our own: STIX and MISP each spell an address, a user agent or a keyed hash differently; the
store, the matcher and the attribution rules work on one `(kind, value)` pair, and the format modules only
translate.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime

TLP_IDS = {  # OASIS cti-stix-common-objects, TLP 2.0 marking definitions
    "clear": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "green": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "amber": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "amber+strict": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "red": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
TLP_LEVELS = tuple(TLP_IDS)

ADDRESS = ("ipv4-addr", "ipv6-addr")
KINDS = (
    "ipv4-addr",
    "ipv6-addr",
    "ip-prefix",
    "autonomous-system",
    "user-agent",
    "tls-fingerprint",
    "email-domain",
    "email-hmac",
    "payment-hmac",
    "template-fingerprint",
)
# Independent kinds of evidence (docs/intel.md, "Confidence"): matches within one family are not independent.
FAMILY = {
    "ipv4-addr": "infrastructure",
    "ipv6-addr": "infrastructure",
    "ip-prefix": "infrastructure",
    "autonomous-system": "infrastructure",
    "user-agent": "client",
    "tls-fingerprint": "client",
    "email-domain": "identity",
    "email-hmac": "identity",
    "payment-hmac": "identity",
    "template-fingerprint": "template",
}
# Public software and shared domains: they count only on an account that also matches a stronger indicator.
SUPPORTING = frozenset({"user-agent", "tls-fingerprint", "email-domain"})


@dataclass(frozen=True)
class Indicator:
    """One shareable value with how often and how long it was seen (never which accounts used it)."""

    kind: str
    value: str
    accounts: int = 0
    requests: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    template_kind: str | None = None  # template fingerprints: "system" or "user"
    num_perm: int | None = None  # template fingerprints: MinHash permutations and seed
    seed: int | None = None
    key_id: str | None = None  # keyed hashes: which partner key made them

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown indicator kind {self.kind!r}")


@dataclass
class CampaignIntel:
    """What one provider shares about one campaign."""

    provider: str
    campaign_id: str
    actor: str | None
    accounts: int
    requests: int
    first_seen: datetime | None
    last_seen: datetime | None
    models: list[str] = field(default_factory=list)
    indicators: list[Indicator] = field(default_factory=list)
    tlp: str = "amber"

    @property
    def actor_name(self) -> str:
        """The actor a partner will learn: our attribution, or a name for the unattributed operator."""
        return self.actor or f"{self.provider} {self.campaign_id} operator"


def keyed_hash(key: bytes, value: str) -> str:
    """HMAC-SHA256 of `value` under a per-partner key, hex: comparable only by holders of the same key."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def key_id(key: bytes) -> str:
    """A short public name for a key (so a partner can tell whether it holds the key that made a hash)."""
    return keyed_hash(key, "distillguard key id")[:16]
