"""Sign-up risk for the abused access pathways: education, research and startup programme applications.

Campaign B came in through these programmes; the cheapest place to stop a fake applicant is before its key
works. `SignupRiskScorer.score(application)` returns a score in 0..1, whether step-up verification is
required (score ≥ threshold), and every reason with its weight, so a reviewer sees why. Each finding is a
probability-like weight and they combine as 1 - Π(1 - w) (independent pieces of evidence; one strong one is
enough, several weak ones add up):

| finding | weight | why |
|---|---|---|
| payment fingerprint shared with flagged accounts | 0.8 | a card that paid for a campaign account |
| education/research applicant with a free-mail address | 0.5 | institutions issue addresses |
| e-mail domain is not the institution's stated domain | 0.45 | a claim the address does not back |
| education/research applicant, domain not academic (.edu, .ac.*, .edu.*) and no stated domain | 0.35 | |
| institution's name found nowhere in the domain | 0.25 | weaker: acronyms and renamed domains |
| sign-up address in a /24 (/48) used by flagged accounts | 0.4 | shared proxy exits |
| sign-up address is Tor or VPN (0.3), cloud or hosting (0.2) | | proxy networks |
| burst: ≥ `burst_min` other sign-ups, same programme and domain, within `burst_window` | 0.4 | farms sign up |
| burst of 4 × `burst_min` or more | 0.6 | in batches |
| startup applicant with a free-mail address | 0.3 | |

"Flagged" accounts are those whose `enforcement` action is throttle or stricter, or that belong to a campaign.
The context (flagged payments and prefixes, earlier sign-ups) is read once from the store, read-only;
applications scored by the same scorer count towards later bursts, so a batch of farm sign-ups scored
together is caught even before any of them reaches the store.
"""

from __future__ import annotations

import bisect
import ipaddress
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from distillguard.gateway.signals import AddressClassifier

PROGRAMMES = ("education", "research", "startup")
FREE_MAIL = frozenset(
    [
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "yahoo.com",
        "icloud.com",
        "me.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "gmx.com",
        "gmx.de",
        "mail.ru",
        "yandex.ru",
        "qq.com",
        "163.com",
        "126.com",
        "foxmail.com",
        "sina.com",
        "naver.com",
        "tutanota.com",
        "zoho.com",
        "mail.com",
    ]
)
FLAGGED_ACTIONS = ("throttle", "step_up", "suspend", "cluster_takedown")


@dataclass
class SignupApplication:
    account_id: str
    programme: str  # education | research | startup (others are scored without the domain checks)
    email_domain: str
    claimed_institution: str | None = None
    institution_domain: str | None = None
    payment_fingerprint: str | None = None
    signup_ip: str | None = None
    created_at: datetime | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SignupApplication:
        """From a JSON object; `programme` may also be given as `account_type` (DESIGN §3.2)."""
        if not isinstance(d, dict):
            raise TypeError("an application must be a JSON object")
        programme = d.get("programme") or d.get("account_type")
        missing = [
            k
            for k, v in (
                ("account_id", d.get("account_id")),
                ("programme", programme),
                ("email_domain", d.get("email_domain")),
            )
            if not isinstance(v, str) or not v
        ]
        if missing:
            raise ValueError(f"missing or non-text field(s): {', '.join(missing)}")
        created = d.get("created_at")
        return cls(
            account_id=d["account_id"],
            programme=programme.lower(),
            email_domain=d["email_domain"].lower().strip().lstrip("@"),
            claimed_institution=d.get("claimed_institution"),
            institution_domain=(d.get("institution_domain") or "").lower().strip() or None,
            payment_fingerprint=d.get("payment_fingerprint"),
            signup_ip=d.get("signup_ip"),
            created_at=_parse_time(created) if created is not None else None,
        )


@dataclass
class SignupRisk:
    account_id: str
    score: float
    step_up_required: bool
    reasons: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _parse_time(value: Any) -> datetime:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, UTC).replace(tzinfo=None)
    if isinstance(value, datetime):
        return value.replace(tzinfo=None) if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed
    raise ValueError(f"created_at must be RFC 3339 text or epoch milliseconds, not {value!r}")


def is_academic(domain: str) -> bool:
    labels = domain.split(".")
    return labels[-1] == "edu" or any(lbl in ("edu", "ac") for lbl in labels[1:-1])


def prefix_of(ip: str) -> str | None:
    """The /24 (IPv4) or /48 (IPv6) network of an address, as `events.ip_prefix` writes it."""
    try:
        addr = ipaddress.ip_address(ip.strip())
    except ValueError:
        return None
    if addr.version == 6 and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    bits = 24 if addr.version == 4 else 48
    return str(ipaddress.ip_network(f"{addr}/{bits}", strict=False))


class SignupRiskScorer:
    """Scores applications against what the store knows; see the module docstring for the findings."""

    def __init__(
        self,
        flagged_payments: dict[str, int] | None = None,
        flagged_prefixes: dict[str, int] | None = None,
        signups: list[tuple[str, datetime, str, str]] | None = None,
        *,
        threshold: float = 0.5,
        burst_window: timedelta = timedelta(hours=24),
        burst_min: int = 5,
        addresses: AddressClassifier | None = None,
    ) -> None:
        self.flagged_payments = flagged_payments or {}
        self.flagged_prefixes = flagged_prefixes or {}
        self.threshold = threshold
        self.burst_window = burst_window
        self.burst_min = burst_min
        self.addresses = addresses or AddressClassifier()
        self._signups: dict[tuple[str, str], list[tuple[datetime, str]]] = defaultdict(list)
        for account, created, programme, domain in signups or ():
            self._signups[(programme, domain)].append((created, account))
        for times in self._signups.values():
            times.sort()

    @classmethod
    def from_store(cls, db: Path, **kwargs: Any) -> SignupRiskScorer:
        """Read flagged payments and address prefixes and earlier sign-ups from the store (read-only)."""
        con = duckdb.connect(str(db), read_only=True)
        try:
            tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
            payments: dict[str, int] = {}
            prefixes: dict[str, int] = {}
            signups: list[tuple[str, datetime, str, str]] = []
            if "enforcement" in tables:
                con.execute(f"""
                    CREATE TEMP TABLE flagged AS SELECT account_id FROM enforcement
                    WHERE action IN {FLAGGED_ACTIONS} OR campaign_id IS NOT NULL""")
                if "accounts" in tables:
                    payments = dict(
                        con.execute("""
                        SELECT payment_fingerprint, count(DISTINCT account_id) FROM accounts JOIN flagged
                        USING (account_id) WHERE payment_fingerprint IS NOT NULL GROUP BY 1""").fetchall()
                    )
                if "events" in tables:
                    prefixes = dict(
                        con.execute("""
                        SELECT ip_prefix, count(DISTINCT account_id) FROM events JOIN flagged USING (account_id)
                        WHERE ip_prefix IS NOT NULL GROUP BY 1""").fetchall()
                    )
            if "accounts" in tables:
                signups = con.execute("""
                    SELECT account_id, created_at, lower(account_type), lower(email_domain) FROM accounts
                    WHERE created_at IS NOT NULL AND account_type IS NOT NULL
                      AND email_domain IS NOT NULL""").fetchall()
        finally:
            con.close()
        return cls(payments, prefixes, signups, **kwargs)

    def score(self, app: SignupApplication, *, remember: bool = True) -> SignupRisk:
        """The risk of one application; with `remember`, it counts towards later bursts."""
        reasons: list[dict[str, Any]] = []

        def add(name: str, weight: float, value: Any = None) -> None:
            reasons.append({"name": name, "weight": weight, "value": value})

        self._domain_findings(app, add)
        if app.payment_fingerprint and app.payment_fingerprint in self.flagged_payments:
            add("payment_shared_with_flagged", 0.8, self.flagged_payments[app.payment_fingerprint])
        if app.signup_ip:
            prefix = prefix_of(app.signup_ip)
            if prefix and prefix in self.flagged_prefixes:
                add("address_shared_with_flagged", 0.4, prefix)
            ip_class = self.addresses(app.signup_ip)
            if ip_class in ("tor", "vpn"):
                add("anonymising_network", 0.3, ip_class)
            elif ip_class in ("cloud", "datacenter"):
                add("hosting_network", 0.2, ip_class)
        created = app.created_at or datetime.now(UTC).replace(tzinfo=None)
        key = (app.programme, app.email_domain)
        burst = self._burst(key, created, app.account_id)
        if burst >= 4 * self.burst_min:
            add("signup_burst", 0.6, burst)
        elif burst >= self.burst_min:
            add("signup_burst", 0.4, burst)
        if remember:
            bisect.insort(self._signups[key], (created, app.account_id))
        keep = 1.0
        for r in reasons:
            keep *= 1.0 - r["weight"]
        score = round(1.0 - keep, 4)
        return SignupRisk(app.account_id, score, score >= self.threshold, reasons)

    def _domain_findings(self, app: SignupApplication, add) -> None:
        domain = app.email_domain
        free = domain in FREE_MAIL
        if app.programme == "startup" and free:
            add("free_mail_domain", 0.3, domain)
        if app.programme not in ("education", "research"):
            return
        if free:
            add("free_mail_domain", 0.5, domain)
        if app.institution_domain:
            if domain != app.institution_domain and not domain.endswith("." + app.institution_domain):
                add("email_domain_mismatch", 0.45, f"{domain} vs {app.institution_domain}")
        elif not free and not is_academic(domain):
            add("non_academic_domain", 0.35, domain)
        if app.claimed_institution and not free and not _name_in_domain(app.claimed_institution, domain):
            add("institution_not_in_domain", 0.25, app.claimed_institution)

    def _burst(self, key: tuple[str, str], created: datetime, account_id: str) -> int:
        times = self._signups.get(key, [])
        lo = bisect.bisect_left(times, (created - self.burst_window, ""))
        hi = bisect.bisect_right(times, (created + self.burst_window, "\uffff"))
        return sum(1 for _, acct in times[lo:hi] if acct != account_id)


def _name_in_domain(institution: str, domain: str) -> bool:
    """Some word of the institution's name (4+ letters, not a generic word) or its acronym is in the domain."""
    generic = {
        "university",
        "universidad",
        "universität",
        "college",
        "institute",
        "school",
        "technology",
        "the",
        "national",
        "research",
        "center",
        "centre",
        "academy",
        "sciences",
        "science",
    }
    words = [w for w in "".join(c.lower() if c.isalnum() else " " for c in institution).split()]
    labels = domain.split(".")
    acronym = "".join(w[0] for w in words if w not in ("of", "the", "and", "for"))
    if len(acronym) >= 2 and acronym in labels:
        return True
    return any(len(w) >= 4 and w not in generic and w in domain for w in words)
