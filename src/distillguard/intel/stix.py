"""STIX 2.1 bundles with the `stix2` library: one campaign out, any partner bundle in.

Out: an Identity (us), the Campaign, an Intrusion Set for the operator (our attribution, or a name for the
unattributed operator) `attributed-to` from the campaign, one Indicator per value with a Sighting (count, first
and last seen, where sighted = us) and an `indicates` Relationship, and template fingerprints as the custom
object `x-distillguard-template-fingerprint` (MinHash digits only). Every object carries the TLP 2.0 marking the
user chose (the OASIS TLP 2.0 marking definitions, fixed ids). Each Indicator also carries `x_distillguard_kind`
and `x_distillguard_value` so a distillguard partner reads values without parsing patterns; bundles from other
tools are read from their patterns.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import stix2
from stix2 import properties as p

from distillguard.intel.indicators import as_datetime
from distillguard.intel.model import TLP_IDS, TLP_LEVELS, CampaignIntel, Indicator

TLP_EXTENSION = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
MAX_COUNT = 999_999_999  # STIX Sighting.count maximum
_PATTERNS = {
    "ipv4-addr": "[ipv4-addr:value = '{}']",
    "ipv6-addr": "[ipv6-addr:value = '{}']",
    "autonomous-system": "[autonomous-system:number = {}]",
    "user-agent": "[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' = '{}']",
    "tls-fingerprint": "[x-distillguard-client:tls_fingerprint = '{}']",
    "email-domain": "[email-addr:value LIKE '%@{}']",
    "email-hmac": "[user-account:x_distillguard_email_hmac = '{}']",
    "payment-hmac": "[user-account:x_distillguard_payment_hmac = '{}']",
}
# Patterns of other tools we can read: (regex, kind); a prefix is an address value with a slash.
_FOREIGN = (
    (re.compile(r"^\[ipv4-addr:value (?:=|ISSUBSET) '([^']+)'\]$"), "ipv4-addr"),
    (re.compile(r"^\[ipv6-addr:value (?:=|ISSUBSET) '([^']+)'\]$"), "ipv6-addr"),
    (re.compile(r"^\[autonomous-system:number = (\d+)\]$"), "autonomous-system"),
    (
        re.compile(r"^\[network-traffic:extensions\.'http-request-ext'\.request_header\.'User-Agent' = '(.+)'\]$"),
        "user-agent",
    ),
)


@stix2.CustomObject(
    "x-distillguard-template-fingerprint",
    [
        ("name", p.StringProperty()),
        ("signature", p.StringProperty(required=True)),  # hex of little-endian uint32 MinHash values
        ("num_perm", p.IntegerProperty(required=True)),
        ("seed", p.IntegerProperty(required=True)),
        ("template_kind", p.StringProperty()),
        ("accounts", p.IntegerProperty()),
        ("requests", p.IntegerProperty()),
    ],
)
class TemplateFingerprint:
    """A prompt template's MinHash signature over masked word bigrams: comparable, holds no text."""


def tlp_marking(level: str) -> stix2.MarkingDefinition:
    """The OASIS TLP 2.0 marking definition for `level` (clear, green, amber, amber+strict, red)."""
    if level not in TLP_IDS:
        raise ValueError(f"unknown TLP level {level!r}; expected one of {', '.join(TLP_LEVELS)}")
    return stix2.MarkingDefinition(
        id=TLP_IDS[level],
        created="2022-10-01T00:00:00.000Z",
        name=f"TLP:{level.upper()}",
        extensions={TLP_EXTENSION: {"extension_type": "property-extension", "tlp_2_0": level}},
    )


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _pattern(ind: Indicator) -> str:
    if ind.kind == "ip-prefix":
        family = "ipv6-addr" if ":" in ind.value else "ipv4-addr"
        return f"[{family}:value ISSUBSET '{_escape(ind.value)}']"
    if ind.kind == "autonomous-system" and not ind.value.isdigit():
        raise ValueError(f"an autonomous system number must be digits, got {ind.value!r}")
    return _PATTERNS[ind.kind].format(_escape(ind.value))


def to_bundle(intel: CampaignIntel) -> stix2.Bundle:
    """The campaign as a STIX 2.1 bundle, every object marked with the chosen TLP level."""
    tlp = tlp_marking(intel.tlp)
    common: dict[str, Any] = {"object_marking_refs": [tlp.id]}
    me = stix2.Identity(name=intel.provider, identity_class="organization", **common)
    common["created_by_ref"] = me.id
    now = datetime.now(UTC)
    first, last = intel.first_seen or now, intel.last_seen or now
    campaign = stix2.Campaign(
        name=f"{intel.provider} {intel.campaign_id}",
        description=f"Distillation campaign: {intel.accounts} accounts, {intel.requests} requests "
        f"to {', '.join(intel.models)}.",
        first_seen=first,
        last_seen=last,
        allow_custom=True,
        x_distillguard_campaign=intel.campaign_id,
        **common,
    )
    actor = stix2.IntrusionSet(
        name=intel.actor_name, allow_custom=True, x_distillguard_attributed=intel.actor is not None, **common
    )
    objects: list[Any] = [tlp, me, campaign, actor, stix2.Relationship(campaign, "attributed-to", actor, **common)]
    for ind in intel.indicators:
        seen = {"first_seen": ind.first_seen or first, "last_seen": ind.last_seen or last}
        if ind.kind == "template-fingerprint":
            obj = TemplateFingerprint(
                name=f"{ind.template_kind} prompt template fingerprint",
                signature=ind.value,
                num_perm=ind.num_perm,
                seed=ind.seed,
                template_kind=ind.template_kind,
                accounts=ind.accounts,
                requests=ind.requests,
                **common,
            )
        else:
            custom = {"x_distillguard_kind": ind.kind, "x_distillguard_value": ind.value}
            if ind.key_id:
                custom["x_distillguard_key_id"] = ind.key_id
            obj = stix2.Indicator(
                name=f"{ind.kind} used by {intel.campaign_id}",
                pattern=_pattern(ind),
                pattern_type="stix",
                valid_from=seen["first_seen"],
                indicator_types=["malicious-activity"],
                allow_custom=True,
                x_distillguard_accounts=ind.accounts,
                **custom,
                **common,
            )
        objects.append(obj)
        objects.append(stix2.Relationship(obj, "indicates", campaign, allow_custom=True, **common))
        if ind.requests:
            count = min(ind.requests, MAX_COUNT)
            sighting = stix2.Sighting(
                sighting_of_ref=obj.id, count=count, where_sighted_refs=[me.id], allow_custom=True, **seen, **common
            )
            objects.append(sighting)
    return stix2.Bundle(objects=objects, allow_custom=True)


def parse_bundle(text: str) -> list[tuple[str | None, str | None, Indicator]]:
    """(actor, partner's campaign, indicator) for every indicator we can read in a STIX 2.1 bundle."""
    bundle = stix2.parse(text, allow_custom=True)
    objects = {o["id"]: o for o in bundle.get("objects", [])}
    counts = {o["sighting_of_ref"]: o for o in objects.values() if o["type"] == "sighting"}
    actor_of: dict[str, str] = {}  # campaign id -> actor name
    indicates: dict[str, str] = {}  # indicator id -> campaign id
    for o in objects.values():
        if o["type"] != "relationship":
            continue
        target = objects.get(o["target_ref"], {})
        if o["relationship_type"] == "attributed-to" and target.get("type") in ("intrusion-set", "threat-actor"):
            actor_of[o["source_ref"]] = target["name"]
        elif o["relationship_type"] == "indicates":
            indicates[o["source_ref"]] = o["target_ref"]
    out = []
    for oid, o in objects.items():
        ind = _indicator(o, counts.get(oid))
        if ind is not None:
            camp = objects.get(indicates.get(oid, ""), {})
            name = camp.get("x_distillguard_campaign", camp.get("name"))
            out.append((actor_of.get(camp.get("id", "")), name, ind))
    return out


def _indicator(o: Any, sighting: Any) -> Indicator | None:
    seen: dict[str, Any] = {}
    if sighting is not None:
        seen = {
            "requests": int(sighting.get("count", 0)),
            "first_seen": as_datetime(sighting.get("first_seen")),
            "last_seen": as_datetime(sighting.get("last_seen")),
        }
    if o["type"] == "x-distillguard-template-fingerprint":
        return Indicator(
            "template-fingerprint",
            o["signature"],
            accounts=int(o.get("accounts", 0)),
            template_kind=o.get("template_kind"),
            num_perm=int(o["num_perm"]),
            seed=int(o["seed"]),
            **seen,
        )
    if o["type"] != "indicator":
        return None
    accounts = int(o.get("x_distillguard_accounts", 0))
    if "x_distillguard_kind" in o:
        kind, value = o["x_distillguard_kind"], o["x_distillguard_value"]
        return Indicator(kind, value, accounts=accounts, key_id=o.get("x_distillguard_key_id"), **seen)
    for regex, kind in _FOREIGN:
        m = regex.match(o["pattern"].strip())
        if m:
            value = m.group(1).replace("\\'", "'").replace("\\\\", "\\")
            kind = "ip-prefix" if kind in ("ipv4-addr", "ipv6-addr") and "/" in value else kind
            return Indicator(kind, value, accounts=accounts, **seen)
    return None
