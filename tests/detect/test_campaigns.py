"""Campaign assembly on hand-made stores: cells of one operation join, distinct operations stay apart."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import numpy as np

from distillguard.detect.campaigns import build_campaigns
from distillguard.engines.duckdb_api import DuckDBAPI
from distillguard.store.schema import create_tables

CODING = {"coding": 6, "tool_use_agentic": 3, "general_chat": 1}
REASONING = {"reasoning_math": 5, "rubric_grading": 3, "censorship_rewrite": 2}


class Store:
    """A store with flagged accounts, their requests (capability labels, client, prefix) and links."""

    def __init__(self) -> None:
        self.db = DuckDBAPI()
        create_tables(self.db)
        self.db.execute("""CREATE TABLE account_links (account_a VARCHAR, account_b VARCHAR, weight DOUBLE,
                                                       signals VARCHAR[])""")
        self.db.execute("CREATE TABLE request_content (request_id VARCHAR, account_id VARCHAR, capability VARCHAR)")
        self.db.execute("""CREATE TABLE request_templates (request_id VARCHAR, account_id VARCHAR,
                                                           system_template VARCHAR, user_template VARCHAR)""")
        self.db.execute("""CREATE TABLE account_detections (account_id VARCHAR, score DOUBLE, flagged BOOLEAN,
                                                            campaign_id VARCHAR)""")
        self.db.execute("CREATE TABLE templates (template_id VARCHAR, kind VARCHAR, signature BLOB, framed BOOLEAN)")
        self.n = 0

    def accounts(self, names: list[str], mix: dict[str, int], *, client: str, prefix: str, flagged: bool = True):
        t0 = datetime(2026, 2, 1)
        for name in names:
            self.db.execute(
                f"INSERT INTO account_detections VALUES ('{name}', {0.9 if flagged else 0.1}, {flagged}, NULL)"
            )
            for capability, count in mix.items():
                for _ in range(count):
                    self.n += 1
                    rid = f"r{self.n}"
                    self.db.execute(f"INSERT INTO request_content VALUES ('{rid}', '{name}', '{capability}')")
                    self.db.execute(
                        "INSERT INTO events (request_id, ts, account_id, client_ip, ip_prefix, ip_class, user_agent, "
                        "tls_fingerprint, model, source_format, source_file, source_line, ingest_run_id) VALUES "
                        f"('{rid}', TIMESTAMP '{t0 + timedelta(minutes=self.n)}', '{name}', '{prefix}.7', "
                        f"'{prefix}.0/24', 'datacenter', '{client}', 'tls-{client}', 'frontier-2', 'native', 'f', "
                        f"{self.n}, 'run')"
                    )

    def system_prompt(self, names: list[str], template_id: str, signature: np.ndarray) -> None:
        """Every request of `names` uses system template `template_id` (MinHash `signature`)."""
        self.db.execute(
            f"INSERT INTO templates VALUES ('{template_id}', 'system', from_hex('{signature.tobytes().hex()}'), false)"
        )
        for name in names:
            self.db.execute(f"""INSERT INTO request_templates SELECT request_id, account_id, '{template_id}', NULL
                                FROM request_content WHERE account_id = '{name}'""")

    def user_prompt(self, names: list[str], template_id: str, *, framed: bool) -> None:
        """Every request of `names` uses user template `template_id`: a wrapper (`framed`) or one whole prompt."""
        self.db.execute(f"INSERT INTO templates VALUES ('{template_id}', 'user', ''::BLOB, {framed})")
        for name in names:
            self.db.execute(f"""INSERT INTO request_templates SELECT request_id, account_id, NULL, '{template_id}'
                                FROM request_content WHERE account_id = '{name}'""")

    def cell(self, names: list[str], signal: str = "shared_payment") -> None:
        for a, b in itertools.combinations(names, 2):
            self.link(a, b, 1.0, signal)

    def link(self, a: str, b: str, weight: float, signal: str) -> None:
        self.db.execute(f"INSERT INTO account_links VALUES ('{a}', '{b}', {weight}, ['{signal}'])")

    def campaigns(self) -> dict[str, set[str]]:
        build_campaigns(self.db)
        rows = self.db.query("SELECT campaign_id, account_id FROM campaign_members").to_pylist()
        out: dict[str, set[str]] = {}
        for r in rows:
            out.setdefault(r["campaign_id"], set()).add(r["account_id"])
        return out


def names(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


def test_two_cells_tied_by_a_client_only_they_use_are_one_campaign() -> None:
    s = Store()
    left, right = names("l", 4), names("r", 4)
    s.accounts(left, CODING, client="gw/1.2", prefix="10.1.1")
    s.accounts(right, CODING, client="gw/1.2", prefix="10.9.9")  # same gateway client, other proxy pool
    s.accounts(names("u", 20), {"general_chat": 3}, client="sdk/9", prefix="10.5.5", flagged=False)
    s.cell(left)
    s.cell(right)
    campaigns = s.campaigns()
    assert list(campaigns.values()) == [set(left + right)]
    row = s.db.query("SELECT cells, joined_by FROM campaigns").to_pylist()[0]
    assert row["cells"] == 2
    assert "client fingerprint used only by flagged accounts" in row["joined_by"]


def test_a_key_shared_with_unflagged_accounts_does_not_tie_cells() -> None:
    s = Store()
    left, right = names("l", 4), names("r", 4)
    s.accounts(left, CODING, client="sdk/1.0", prefix="10.1.1")
    s.accounts(right, CODING, client="sdk/1.0", prefix="10.9.9")
    s.accounts(names("u", 20), CODING, client="sdk/1.0", prefix="10.5.5", flagged=False)  # a popular SDK build
    s.cell(left)
    s.cell(right)
    assert sorted(map(sorted, s.campaigns().values())) == [sorted(left), sorted(right)]


def test_a_shared_wrapper_ties_cells_and_a_shared_whole_prompt_does_not() -> None:
    """Two harvesters sending the same public task set's questions are not one operator; one wrapper is."""
    for framed in (True, False):
        s = Store()
        left, right = names("l", 4), names("r", 4)
        s.accounts(left, CODING, client="gw/1.2", prefix="10.1.1")
        s.accounts(right, CODING, client="cli/3", prefix="10.9.9")
        s.cell(left)
        s.cell(right)
        s.user_prompt(left + right, "usr-1", framed=framed)
        campaigns = sorted(map(sorted, s.campaigns().values()))
        if framed:
            assert campaigns == [sorted(left + right)]
            assert (
                "user template used only by flagged accounts"
                in s.db.query("SELECT joined_by FROM campaigns").to_pylist()[0]["joined_by"]
            )
        else:
            assert campaigns == [sorted(left), sorted(right)]


def test_operations_with_different_capability_profiles_stay_apart_despite_a_strong_link() -> None:
    s = Store()
    coders, reasoners = names("c", 5), names("m", 5)
    s.accounts(coders, CODING, client="gw/1.2", prefix="10.1.1")
    s.accounts(reasoners, REASONING, client="gw/1.2", prefix="10.1.1")  # same proxy pool and client build
    s.cell(coders)
    s.cell(reasoners)
    s.link("c0", "m0", 1.0, "shared_client_fingerprint")
    assert sorted(map(sorted, s.campaigns().values())) == [sorted(coders), sorted(reasoners)]


def test_unflagged_account_never_joins_and_small_groups_are_not_campaigns() -> None:
    s = Store()
    cell = names("c", 4)
    s.accounts(cell, CODING, client="gw/1.2", prefix="10.1.1")
    s.accounts(["student"], CODING, client="gw/1.2", prefix="10.1.1", flagged=False)
    s.accounts(["p0", "p1"], REASONING, client="x/1", prefix="10.7.7")
    s.cell(cell)
    s.cell(["p0", "p1"])
    s.link("c0", "student", 0.9, "shared_addresses")
    assert list(s.campaigns().values()) == [set(cell)]
    assert s.db.scalar("SELECT count(*) FROM account_detections WHERE campaign_id IS NOT NULL") == 4


def test_no_flagged_account_means_no_campaign() -> None:
    s = Store()
    s.accounts(names("u", 5), CODING, client="sdk/9", prefix="10.5.5", flagged=False)
    s.cell(names("u", 5))
    assert s.campaigns() == {}
    assert s.db.scalar("SELECT count(*) FROM campaigns") == 0


def test_cells_whose_system_prompts_are_rewordings_of_one_another_join() -> None:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 2**32, 128, dtype=np.uint32)
    reworded = np.where(np.arange(128) < 70, base, rng.integers(0, 2**32, 128, dtype=np.uint32))  # Jaccard ~0.55
    unrelated = rng.integers(0, 2**32, 128, dtype=np.uint32)
    s = Store()
    cells = [names(p, 4) for p in ("a", "b", "c")]
    for i, (cell, signature) in enumerate(zip(cells, (base, reworded, unrelated), strict=True)):
        s.accounts(cell, CODING, client=f"sdk/{i}", prefix=f"10.{i}.1")  # nothing else shared
        s.cell(cell)
        s.system_prompt(cell, f"sys-{i}", signature.astype("<u4"))
    assert sorted(map(sorted, s.campaigns().values())) == [sorted(cells[0] + cells[1]), sorted(cells[2])]
    joined = s.db.query("SELECT joined_by FROM campaigns WHERE cells = 2").to_pylist()[0]["joined_by"]
    assert joined == ["system prompts reworded from one another"]


def test_a_lone_account_tied_to_two_operations_joins_one_and_bridges_none() -> None:
    s = Store()
    first, second = names("f", 5), names("s", 5)
    s.accounts(first, CODING, client="gw/1.2", prefix="10.1.1")
    s.accounts(second, CODING, client="cli/3.0", prefix="10.9.9")  # same target, nothing shared with `first`
    s.accounts(["x"], CODING, client="other/1", prefix="10.7.7")  # one account, in no cell of its own
    s.cell(first)
    s.cell(second)
    s.link("x", "f0", 0.4, "shared_system_template")  # too weak to hold x in a cell, enough to tie
    s.link("x", "s0", 0.4, "shared_system_template")
    campaigns = sorted(map(sorted, s.campaigns().values()))
    assert len(campaigns) == 2
    assert sorted(first) in [sorted(set(c) - {"x"}) for c in campaigns]
    assert sorted(second) in [sorted(set(c) - {"x"}) for c in campaigns]
    assert sum("x" in c for c in campaigns) == 1
