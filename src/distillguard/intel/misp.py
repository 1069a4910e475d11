"""MISP feeds with PyMISP: one campaign as a `MISPEvent` (`to_feed` output), and any MISP event read back.

Mapping (docs/intel.md): addresses and prefixes are `ip-src` (MISP takes CIDR there), user agents
`user-agent`, e-mail domains `domain`, TLS fingerprints, keyed hashes and template fingerprints `text` (MISP has
no JA4 or MinHash type). Every attribute carries a `distillguard:kind="..."` tag naming our kind, template
fingerprints also `distillguard:minhash="<perm>/<seed>"`, keyed hashes `distillguard:key-id="..."`. The event
carries the TLP tag (`tlp:amber`, ...) and `distillguard:actor` / `distillguard:campaign` tags. Counts go in the
attribute comment, time spans in `first_seen` / `last_seen`.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

from pymisp import MISPEvent, MISPOrganisation

from distillguard.intel.indicators import as_datetime
from distillguard.intel.model import CampaignIntel, Indicator

_TYPES = {
    "ipv4-addr": "ip-src",
    "ipv6-addr": "ip-src",
    "ip-prefix": "ip-src",
    "autonomous-system": "AS",
    "user-agent": "user-agent",
    "email-domain": "domain",
}
# MISP distribution by TLP level: 0 your organisation, 1 this community, 2 connected communities, 3 all.
DISTRIBUTION = {"red": 0, "amber+strict": 0, "amber": 1, "green": 2, "clear": 3}
_TAG = re.compile(r'^distillguard:([a-z-]+)="(.*)"$')
_COUNTS = re.compile(r"(\d+) accounts, (\d+) requests")


def _tag(name: str, value: str) -> str:
    return f'distillguard:{name}="{value}"'


def to_event(intel: CampaignIntel) -> MISPEvent:
    """The campaign as a MISP event with one attribute per indicator."""
    event = MISPEvent()
    event.info = f"Distillation campaign {intel.campaign_id} ({intel.accounts} accounts, {intel.requests} requests)"
    org = MISPOrganisation()
    org.name = intel.provider
    org.uuid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"distillguard:{intel.provider}"))  # stable per provider
    event.Orgc = org
    event.date = (intel.first_seen or datetime.now(UTC)).date()
    event.threat_level_id = 2
    event.analysis = 2
    event.distribution = DISTRIBUTION[intel.tlp]
    for tag in (f"tlp:{intel.tlp}", _tag("actor", intel.actor_name), _tag("campaign", intel.campaign_id)):
        event.add_tag(tag)
    for ind in intel.indicators:
        spans = (("first_seen", ind.first_seen), ("last_seen", ind.last_seen))
        seen = {k: v.replace(tzinfo=UTC) for k, v in spans if v}
        attr = event.add_attribute(
            _TYPES.get(ind.kind, "text"),
            ind.value,
            category="Network activity",
            to_ids=ind.kind not in ("template-fingerprint",),
            comment=f"{ind.accounts} accounts, {ind.requests} requests",
            **seen,
        )
        attr.add_tag(_tag("kind", ind.kind))
        if ind.kind == "template-fingerprint":
            attr.add_tag(_tag("minhash", f"{ind.num_perm}/{ind.seed}"))
            attr.add_tag(_tag("template-kind", str(ind.template_kind)))
        if ind.key_id:
            attr.add_tag(_tag("key-id", ind.key_id))
    return event


def to_feed(intel: CampaignIntel) -> dict[str, Any]:
    """The MISP feed JSON object for the campaign (`MISPEvent.to_feed`)."""
    return to_event(intel).to_feed(with_meta=False)


def parse_feed(data: dict[str, Any]) -> list[tuple[str | None, str | None, Indicator]]:
    """(actor, partner's campaign, indicator) for every attribute we can read in a MISP feed event."""
    event = MISPEvent()
    event.load(data)
    tags = _tags(event.tags)
    out = []
    for attr in event.attributes:
        ind = _indicator(attr)
        if ind is not None:
            out.append((tags.get("actor"), tags.get("campaign"), ind))
    return out


def _tags(tags: list[Any]) -> dict[str, str]:
    out = {}
    for t in tags:
        m = _TAG.match(t.name)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def _indicator(attr: Any) -> Indicator | None:
    tags = _tags(attr.tags)
    kind = tags.get("kind")
    if kind is None:  # a foreign feed: read what maps unambiguously
        if attr.type not in ("ip-src", "ip-dst", "user-agent", "AS"):
            return None
        if attr.type in ("user-agent", "AS"):
            kind = "user-agent" if attr.type == "user-agent" else "autonomous-system"
        else:
            kind = "ip-prefix" if "/" in attr.value else ("ipv6-addr" if ":" in attr.value else "ipv4-addr")
    m = _COUNTS.search(attr.comment or "")
    extra: dict[str, Any] = {"key_id": tags.get("key-id")}
    if kind == "template-fingerprint":
        perm, seed = tags.get("minhash", "0/0").split("/")
        extra |= {"num_perm": int(perm), "seed": int(seed), "template_kind": tags.get("template-kind")}
    seen = {k: as_datetime(getattr(attr, k, None)) for k in ("first_seen", "last_seen")}
    return Indicator(
        kind,
        str(attr.value),
        accounts=int(m.group(1)) if m else 0,
        requests=int(m.group(2)) if m else 0,
        **seen,
        **extra,
    )
