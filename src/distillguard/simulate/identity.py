"""Account identities: countries and time zones, e-mail addresses, payment and organisation fingerprints.

Why it matters: the accounts file (DESIGN §3.2) is where an operator sees sign-up patterns. Benign e-mails
are drawn from the many styles people use; campaign cells use one *pattern* (same domain, same shape,
sequential numbers), which is a real tell an operator would see: the accounts file carries the address only
as ``email_domain``, ``email_hash`` and ``email_pattern`` (the local part with letters as "a" and digits as
"9"), never the address itself. University students share a pattern too (student numbers), so the pattern
alone does not separate attackers from a class of students.
"""

from __future__ import annotations

import hashlib

import numpy as np

from distillguard.simulate.phrases import FIRST_NAMES, LAST_NAMES, WORDS

# (ISO country, weight among ordinary users, UTC offsets in minutes in February)
COUNTRIES: tuple[tuple[str, float, tuple[int, ...]], ...] = (
    ("US", 30, (-300, -360, -420, -480)),
    ("IN", 8, (330,)),
    ("GB", 6, (0,)),
    ("DE", 5, (60,)),
    ("FR", 4, (60,)),
    ("BR", 4, (-180,)),
    ("CA", 4, (-300, -480)),
    ("JP", 4, (540,)),
    ("KR", 3, (540,)),
    ("SG", 2, (480,)),
    ("AU", 3, (600, 660)),
    ("NL", 2, (60,)),
    ("ES", 2, (60,)),
    ("IT", 2, (60,)),
    ("PL", 2, (60,)),
    ("MX", 2, (-360,)),
    ("ID", 2, (420,)),
    ("NG", 1, (60,)),
    ("IL", 1, (120,)),
    ("SE", 1, (60,)),
    ("CH", 1, (60,)),
    ("TR", 1, (180,)),
    ("VN", 1, (420,)),
    ("PH", 1, (480,)),
    ("ZA", 1, (120,)),
    ("AR", 1, (-180,)),
    ("UA", 1, (120,)),
    ("HK", 1, (480,)),
    ("TW", 1, (480,)),
)
COUNTRY_CODES = [c for c, _, _ in COUNTRIES]
_WEIGHTS = np.array([w for _, w, _ in COUNTRIES]) / sum(w for _, w, _ in COUNTRIES)
# where proxied campaign accounts claim to be: supported, high-traffic regions
CAMPAIGN_COUNTRIES = {"US": 0.5, "SG": 0.15, "GB": 0.1, "JP": 0.1, "DE": 0.08, "CA": 0.07}

CONSUMER_DOMAINS = (
    ("gmail.com", 45),
    ("outlook.com", 10),
    ("hotmail.com", 6),
    ("yahoo.com", 6),
    ("icloud.com", 6),
    ("proton.me", 3),
    ("qq.com", 3),
    ("163.com", 2),
    ("gmx.de", 2),
    ("yandex.ru", 2),
    ("naver.com", 2),
    ("mail.ru", 1),
    ("web.de", 1),
    ("live.com", 2),
    ("aol.com", 1),
)
_TLDS = ("com", "io", "ai", "co", "de", "dev", "tech", "app", "net", "co.uk")


def countries(rng: np.random.Generator, n: int, mix: dict[str, float] | None = None) -> np.ndarray:
    """Country indices into COUNTRIES: the ordinary-user mix, or a given {code: share} mix."""
    if mix is None:
        return rng.choice(len(COUNTRIES), size=n, p=_WEIGHTS)
    codes = list(mix)
    p = np.array([mix[c] for c in codes])
    return np.array([COUNTRY_CODES.index(c) for c in codes])[rng.choice(len(codes), size=n, p=p / p.sum())]


def tz_offsets(rng: np.random.Generator, country: np.ndarray) -> np.ndarray:
    """A UTC offset (minutes) for each country index, spread over the country's zones."""
    out = np.empty(len(country), dtype=np.int32)
    pick = rng.random(len(country))
    for i, (_, _, zones) in enumerate(COUNTRIES):
        sel = country == i
        out[sel] = np.asarray(zones)[(pick[sel] * len(zones)).astype(int)]
    return out


def org_domain(key: int, kind: str) -> str:
    """A deterministic organisation domain ("kind": company, university, research, startup)."""
    r = np.random.default_rng(key)
    a, b = r.choice(WORDS, 2, replace=False)
    if kind == "university":
        return str(r.choice([f"{a}-university.edu", f"uni-{a}{b}.de", f"{a}{b}.ac.uk", f"{a}.edu.sg", f"{a}{b}.edu"]))
    if kind == "research":
        return str(r.choice([f"{a}-institute.org", f"{a}{b}lab.org", f"{a}.research.org"]))
    return f"{a}{b}.{r.choice(_TLDS)}"


def person_locals(rng: np.random.Generator, n: int) -> list[str]:
    """Local parts in the styles real people use."""
    first = rng.choice(FIRST_NAMES, n)
    last = rng.choice(LAST_NAMES, n)
    word = rng.choice(WORDS, n)
    style = rng.choice(8, n, p=[0.22, 0.14, 0.08, 0.1, 0.14, 0.12, 0.1, 0.1])
    num2 = rng.integers(1, 99, n)
    num4 = rng.integers(1960, 2010, n)
    out = []
    for f, la, w, s, a, b in zip(first, last, word, style.tolist(), num2.tolist(), num4.tolist(), strict=True):
        out.append(
            (f"{f}.{la}", f"{f}{la}", f"{f}_{la}", f"{f[0]}{la}", f"{f}.{la}{a}", f"{f}{b}", f"{w}{f}{a}", f"{f}{w}")[s]
        )
    return out


def consumer_domains(rng: np.random.Generator, n: int) -> list[str]:
    names = [d for d, _ in CONSUMER_DOMAINS]
    p = np.array([w for _, w in CONSUMER_DOMAINS], dtype=float)
    return [names[i] for i in rng.choice(len(names), n, p=p / p.sum()).tolist()]


def patterned_locals(rng: np.random.Generator, n: int) -> list[str]:
    """A campaign cell's sign-up script: one template, sequential numbers (shape is shared by the cell)."""
    style = int(rng.integers(5))
    stem = f"{rng.choice(FIRST_NAMES)}{rng.choice(LAST_NAMES)}"
    word = f"{rng.choice(WORDS)}{rng.choice(WORDS)}"
    start = int(rng.integers(1000, 8000))  # same digit count throughout a cell
    seq = range(start, start + n)
    if style == 0:
        return [f"{stem}{i}" for i in seq]
    if style == 1:
        return [f"{word}{i:05d}" for i in seq]
    if style == 2:
        return [f"dev.{word}.{i}" for i in seq]
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    if style == 3:
        return ["".join(rng.choice(letters, 10)) for _ in seq]
    return [f"{stem[:6]}{i}{letters[i % 26]}" for i in seq]


def email_pattern(local: str) -> str:
    """The shape of a local part: letters become "a", digits "9", everything else is kept."""
    return "".join("a" if c.isalpha() else "9" if c.isdigit() else c for c in local)


def email_hash(local: str, domain: str) -> str:
    return hashlib.sha256(f"{local}@{domain}".encode()).hexdigest()[:32]
