"""Campaigns: flagged accounts grouped into operations, with what an analyst needs to act on them.

An operation runs many *cells* (a burst of accounts on a few cards behind one proxy pool) and several
operations can touch: two competitors pin the same SDK version, a reseller's proxy network carries both, their
system prompts are paraphrases of the same task. So campaigns are assembled in two steps, both over flagged
accounts only (an unflagged account never bridges two operations):

1. Cells: Leiden (Constant Potts Model) over strong links (`min_edge`) between accounts that also harvest the
   same thing: the cosine of their capability profiles (requests per capability class) is at least
   `account_similarity`. A strong link between accounts aimed at different capabilities is a coincidence of
   shared infrastructure, not one script.
2. Operations: two cells join when they harvest the same thing (capability-profile cosine at least
   `cell_similarity`, measured over all their requests) *and* something ties them: any link between their
   accounts, or a key that only flagged accounts use (a client fingerprint, an address prefix, a template, a
   payment fingerprint). Neither alone suffices: distinct operations share keys, and distinct operations can
   target one capability. A cell smaller than `min_accounts` (often one account whose links were too weak to
   hold it in a cell) joins the one operation it matches best and never bridges two: one stray account with
   a prompt like another operation's would otherwise merge them.

Writes `campaigns` (with `cells` and `joined_by`, the evidence that tied its cells), `campaign_members`, and
`account_detections.campaign_id`.
"""

from __future__ import annotations

from dataclasses import dataclass

import igraph as ig
import leidenalg
import numpy as np
import pyarrow as pa

from distillguard.engines.base import DatabaseAPI
from distillguard.linkage.graph import account_graph
from distillguard.templates.minhash import estimated_jaccard


@dataclass(frozen=True)
class CampaignConfig:
    """Knobs of campaign assembly; the defaults are argued in docs/detection.md ("Campaigns").

    min_accounts: smallest campaign reported.
    min_edge: link weight that can hold a cell together.
    account_similarity: capability-profile cosine two linked accounts need to be in one cell.
    cell_similarity: capability-profile cosine two cells need to be one operation.
    resolution: Leiden CPM resolution for cells (a cell must be denser than this).
    distinctive_share: a key ties cells when at least this share of the accounts using it are flagged.
    star_above: a key used by more cells than this ties each of them to its largest cell only (bounds pairs).
    variant_similarity: estimated Jaccard at which two cells' system prompts are variants of one prompt (the
      template stage's own threshold for "one template" is 0.7; an operator's rewordings of its prompt sit at
      0.4-0.7, unrelated prompts below 0.1).
    max_variant_templates: most-used distinctive system templates compared for variants (all pairs).
    """

    min_accounts: int = 3
    min_edge: float = 0.5
    account_similarity: float = 0.8
    cell_similarity: float = 0.85
    resolution: float = 0.1
    distinctive_share: float = 0.8
    star_above: int = 50
    variant_similarity: float = 0.4
    max_variant_templates: int = 3000


PROFILES_SQL = """
CREATE OR REPLACE TABLE campaign_profiles AS
WITH flagged AS (SELECT account_id FROM account_detections WHERE flagged),
classes AS (SELECT DISTINCT capability FROM request_content WHERE capability IS NOT NULL),
counts AS (
  SELECT account_id, capability, count(*) AS requests
  FROM request_content JOIN flagged USING (account_id) GROUP BY ALL
)
SELECT f.account_id, list(coalesce(c.requests, 0)::DOUBLE ORDER BY k.capability) AS profile
FROM flagged f CROSS JOIN classes k
LEFT JOIN counts c ON c.account_id = f.account_id AND c.capability = k.capability
GROUP BY f.account_id
"""

# Classes left out when comparing cells: general_chat is where the capability classifier puts text it cannot
# place, unseen wordings included (docs/quality.md), so between cells that word one prompt differently it
# measures wording, not what is harvested. Within a cell (one wording) it stays: there it shows mixed-in traffic.
WORDING_CLASSES = frozenset({"general_chat"})

# Keys one account holds; a key ties cells when (almost) only flagged accounts hold it. A user template ties
# only as a frame (an operator's wrapper around varying tasks): an unframed one is one recurring prompt, often a
# public task set's question that any two harvesters (and some customers) send, so it says nothing of who runs them.
KEYS_SQL = """
SELECT DISTINCT 'client fingerprint' AS kind, user_agent || ' | ' || tls_fingerprint AS key, account_id
FROM events WHERE user_agent IS NOT NULL AND tls_fingerprint IS NOT NULL
UNION ALL SELECT DISTINCT 'address prefix', ip_prefix, account_id FROM events WHERE ip_prefix IS NOT NULL
UNION ALL SELECT DISTINCT 'system template', system_template::VARCHAR, account_id
FROM request_templates WHERE system_template IS NOT NULL
UNION ALL SELECT DISTINCT 'user template', r.user_template::VARCHAR, r.account_id
FROM request_templates r JOIN templates t ON t.template_id = r.user_template WHERE t.framed
UNION ALL SELECT DISTINCT 'payment fingerprint', payment_fingerprint, account_id
FROM accounts WHERE payment_fingerprint IS NOT NULL
"""


def build_campaigns(db: DatabaseAPI, config: CampaignConfig | None = None) -> None:
    """Write `campaigns`, `campaign_members` and set `account_detections.campaign_id`."""
    config = config or CampaignConfig()
    db.execute(PROFILES_SQL)
    cells = _cells(db, config)
    _temp_table(db, "campaign_cells", cells)
    ties = pa.concat_tables([db.query(_ties_sql(config)), _variant_ties(db, config)])
    profiles = db.query("""
        SELECT c.cell, p.profile FROM campaign_cells c JOIN campaign_profiles p USING (account_id)""")
    classes = (
        db.query("SELECT DISTINCT capability FROM request_content WHERE capability IS NOT NULL ORDER BY capability")
        .column(0)
        .to_pylist()
    )
    kept = np.array([c not in WORDING_CLASSES for c in classes], dtype=bool)
    components, joins = _operations(cells, profiles, kept, ties, config.cell_similarity, config.min_accounts)
    _temp_table(db, "components", components)
    _temp_table(db, "joins", joins)
    db.execute(_campaigns_sql(config.min_accounts))
    db.execute("""
        CREATE OR REPLACE TABLE campaign_members AS
        SELECT c.campaign_id, m.account_id FROM campaigns c JOIN components m USING (component)""")
    db.execute("""
        UPDATE account_detections d SET campaign_id = m.campaign_id
        FROM campaign_members m WHERE d.account_id = m.account_id""")
    for name in ("campaign_cells", "components", "joins"):
        db.execute(f"DROP TABLE {name}")


def _temp_table(db: DatabaseAPI, name: str, data: pa.Table) -> None:
    """`data` as a temporary table: joined with a registered Arrow table (no statistics) the key ties were
    planned as a cross product of cells and filled the disk at 32M requests; as a table they take 0.1 s."""
    db.register(f"{name}_arrow", data)
    db.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {name}_arrow")
    db.unregister(f"{name}_arrow")


def _cells(db: DatabaseAPI, config: CampaignConfig) -> pa.Table:
    """Cell number per flagged account: Leiden over strong same-profile links; unlinked accounts alone."""
    edges = db.query(f"""
        SELECT l.account_a, l.account_b, l.weight FROM account_links l
        JOIN campaign_profiles a ON a.account_id = l.account_a
        JOIN campaign_profiles b ON b.account_id = l.account_b
        WHERE l.weight >= {config.min_edge}
          AND list_cosine_similarity(a.profile, b.profile) >= {config.account_similarity}""")
    names, graph = account_graph(edges)
    membership = (
        leidenalg.find_partition(
            graph, leidenalg.CPMVertexPartition, weights="weight", resolution_parameter=config.resolution, seed=0
        ).membership
        if len(names)
        else []
    )
    flagged = db.query("SELECT account_id FROM campaign_profiles ORDER BY account_id").column(0).to_pylist()
    cell = dict(zip(names.tolist(), membership, strict=True))
    alone = iter(range(len(names), len(names) + len(flagged)))
    ids = [cell[a] if a in cell else next(alone) for a in flagged]
    return pa.table({"account_id": pa.array(flagged, pa.string()), "cell": pa.array(ids, pa.int64())})


def _ties_sql(config: CampaignConfig) -> str:
    """(cell_a, cell_b, evidence) for cells tied by a link between their accounts or a distinctive key."""
    return f"""
        WITH keyed AS ({KEYS_SQL}),
        held AS (
          SELECT k.kind, k.key, k.account_id, c.cell FROM keyed k LEFT JOIN campaign_cells c USING (account_id)
        ),
        distinctive AS (
          SELECT kind, key FROM held GROUP BY ALL
          HAVING count(cell) >= 2 AND count(cell) >= {config.distinctive_share} * count(*)
        ),
        key_cells AS (
          SELECT h.kind, h.key, h.cell, count(*) AS accounts
          FROM held h JOIN distinctive USING (kind, key) WHERE h.cell IS NOT NULL GROUP BY ALL
        ),
        ranked AS (
          SELECT *, row_number() OVER (PARTITION BY kind, key ORDER BY accounts DESC, cell) AS rank,
                 count(*) OVER (PARTITION BY kind, key) AS cells
          FROM key_cells
        ),
        small AS (SELECT * FROM ranked WHERE cells <= {config.star_above}),
        anchors AS (SELECT kind, key, cell AS anchor FROM ranked WHERE rank = 1 AND cells > {config.star_above}),
        key_ties AS (  -- every pair for a key of few cells; each cell to the key's largest one otherwise
          SELECT a.cell AS cell_a, b.cell AS cell_b, a.kind || ' used only by flagged accounts' AS evidence
          FROM small a JOIN small b ON a.kind = b.kind AND a.key = b.key AND a.cell < b.cell
          UNION ALL
          SELECT least(r.cell, x.anchor), greatest(r.cell, x.anchor), r.kind || ' used only by flagged accounts'
          FROM ranked r JOIN anchors x USING (kind, key) WHERE r.cell <> x.anchor
        ),
        link_ties AS (
          SELECT least(a.cell, b.cell) AS cell_a, greatest(a.cell, b.cell) AS cell_b, s || ' link' AS evidence
          FROM account_links l
          JOIN campaign_cells a ON a.account_id = l.account_a
          JOIN campaign_cells b ON b.account_id = l.account_b AND b.cell <> a.cell, unnest(l.signals) AS t(s)
        )
        SELECT DISTINCT cell_a, cell_b, evidence FROM (SELECT * FROM key_ties UNION ALL SELECT * FROM link_ties)"""


def _variant_ties(db: DatabaseAPI, config: CampaignConfig) -> pa.Table:
    """Cells whose main system prompts are rewordings of one another (distinct templates, alike signatures).

    Only templates whose traffic comes (almost) only from flagged accounts (a common prompt that a few ordinary
    users also send once is still the operator's), and that carry at least a tenth of a cell's requests, are
    compared; each template speaks for the cell that uses it most.
    """
    rows = db.query(f"""
        WITH usage AS (
          SELECT r.system_template AS template_id, r.account_id, c.cell, count(*) AS requests
          FROM request_templates r LEFT JOIN campaign_cells c USING (account_id)
          WHERE r.system_template IS NOT NULL GROUP BY ALL
        ), distinctive AS (
          SELECT template_id, sum(requests) AS requests FROM usage GROUP BY template_id
          HAVING sum(requests) FILTER (WHERE cell IS NOT NULL) >= {config.distinctive_share} * sum(requests)
        ), per_cell AS (
          SELECT template_id, cell, sum(requests) AS requests,
                 sum(requests) / sum(sum(requests)) OVER (PARTITION BY cell) AS share
          FROM usage WHERE cell IS NOT NULL GROUP BY template_id, cell
        ), anchored AS (
          SELECT template_id, arg_max(cell, requests) AS cell FROM per_cell WHERE share >= 0.1 GROUP BY template_id
        )
        SELECT a.template_id, a.cell, t.signature FROM anchored a JOIN distinctive d USING (template_id)
        JOIN templates t USING (template_id)
        ORDER BY d.requests DESC, a.template_id LIMIT {config.max_variant_templates}""")
    empty = pa.table(
        {
            "cell_a": pa.array([], pa.int64()),
            "cell_b": pa.array([], pa.int64()),
            "evidence": pa.array([], pa.string()),
        }
    )
    if rows.num_rows < 2:
        return empty
    signatures = np.stack([np.frombuffer(b, dtype="<u4") for b in rows.column("signature").to_pylist()])
    first, second = np.triu_indices(rows.num_rows, k=1)
    similarity = estimated_jaccard(signatures, first, second)
    cell = rows.column("cell").to_numpy()
    keep = (similarity >= config.variant_similarity) & (cell[first] != cell[second])
    a, b = cell[first[keep]], cell[second[keep]]
    return pa.table(
        {
            "cell_a": pa.array(np.minimum(a, b), pa.int64()),
            "cell_b": pa.array(np.maximum(a, b), pa.int64()),
            "evidence": pa.array(["system prompts reworded from one another"] * int(keep.sum()), pa.string()),
        }
    )


def _operations(
    cells: pa.Table, profiles: pa.Table, kept: np.ndarray, ties: pa.Table, min_similarity: float, min_core: int
) -> tuple[pa.Table, pa.Table]:
    """Join tied cells with alike capability profiles: (account → component, the joins made and why).

    Cells of at least `min_core` accounts join through every qualifying tie; a smaller cell attaches to the
    core cell it is most alike (or, with no core tie, groups with other small cells only).
    """
    cell = cells.column("cell").to_numpy()
    n_cells = int(cell.max()) + 1 if len(cell) else 0
    rows = profiles.column("profile").to_pylist()
    vectors = np.asarray(rows, dtype=float).reshape(len(rows), len(kept))[:, kept]
    totals = np.zeros((n_cells, vectors.shape[1]))
    np.add.at(totals, profiles.column("cell").to_numpy(), vectors)
    unit = totals / np.maximum(np.linalg.norm(totals, axis=1, keepdims=True), 1e-12)
    a = ties.column("cell_a").to_numpy()
    b = ties.column("cell_b").to_numpy()
    similarity = np.einsum("ij,ij->i", unit[a], unit[b]) if len(a) else np.zeros(0)
    used = _used_ties(a, b, similarity >= min_similarity, similarity, np.bincount(cell, minlength=n_cells) >= min_core)
    graph = ig.Graph(n=n_cells, edges=np.stack([a[used], b[used]], axis=1).tolist(), directed=False)
    component = np.asarray(graph.connected_components().membership, dtype=np.int64)
    members = pa.table(
        {
            "account_id": cells.column("account_id"),
            "cell": cells.column("cell"),
            "component": pa.array(component[cell] if n_cells else [], pa.int64()),
        }
    )
    joins = pa.table(
        {
            "component": pa.array(component[a[used]] if n_cells else [], pa.int64()),
            "similarity": pa.array(similarity[used], pa.float64()),
            "evidence": ties.column("evidence").filter(pa.array(used)),
        }
    )
    return members, joins


def _used_ties(
    a: np.ndarray, b: np.ndarray, joined: np.ndarray, similarity: np.ndarray, core: np.ndarray
) -> np.ndarray:
    """Which qualifying ties make components: all between core cells; per small cell tied to a core cell, its
    ties to the most alike core cell only (every tie row of that pair, so all its evidence is kept); between
    small cells only when neither is tied to a core cell."""
    core_a, core_b = core[a], core[b]
    mixed = joined & (core_a != core_b)
    small_end, core_end = np.where(core_a, b, a), np.where(core_a, a, b)
    best = np.full(len(core), -1)
    order = np.lexsort((-similarity[mixed], small_end[mixed]))  # per small cell, the most alike core cell first
    ends, first = np.unique(small_end[mixed][order], return_index=True)
    best[ends] = core_end[mixed][order][first]
    attached = best >= 0
    return (
        (joined & core_a & core_b)
        | (mixed & (best[small_end] == core_end))
        | (joined & ~core_a & ~core_b & ~attached[a] & ~attached[b])
    )


def _campaigns_sql(min_accounts: int) -> str:
    return f"""
        CREATE OR REPLACE TABLE campaigns AS
        WITH flagged AS (
          SELECT c.component, count(*) AS accounts, count(DISTINCT c.cell) AS cells, avg(d.score) AS score
          FROM components c JOIN account_detections d USING (account_id)
          GROUP BY c.component HAVING count(*) >= {min_accounts}
        ), numbered AS (
          SELECT *, 'camp_' || lpad(row_number() OVER (ORDER BY accounts DESC, component)::VARCHAR, 4, '0')
                 AS campaign_id
          FROM flagged
        ), members AS (
          SELECT n.campaign_id, c.account_id FROM numbered n JOIN components c USING (component)
        ), traffic AS (
          SELECT m.campaign_id, count(*) AS requests, min(e.ts) AS first_seen, max(e.ts) AS last_seen,
                 list(DISTINCT e.model) AS models,
                 avg(CASE WHEN e.ip_class IN ('datacenter', 'cloud', 'vpn', 'tor') THEN 1.0 ELSE 0.0 END)
                   AS risky_address_share,
                 count(DISTINCT e.client_ip) AS addresses, count(DISTINCT e.ip_prefix) AS prefixes
          FROM members m JOIN events e USING (account_id) GROUP BY m.campaign_id
        ), links AS (
          SELECT m.campaign_id, list(DISTINCT s ORDER BY s) AS link_kinds
          FROM members m JOIN account_links l ON l.account_a = m.account_id, unnest(l.signals) AS t(s)
          GROUP BY m.campaign_id
        ), tied AS (
          SELECT component, round(min(similarity), 3) AS min_similarity,
                 list(DISTINCT evidence ORDER BY evidence) AS joined_by
          FROM joins GROUP BY component
        )
        SELECT n.campaign_id, n.component, n.accounts, n.score, t.requests, t.first_seen, t.last_seen, t.models,
               t.risky_address_share, t.addresses, t.prefixes, coalesce(l.link_kinds, []) AS link_kinds,
               n.cells, j.min_similarity AS cell_similarity,
               coalesce(j.joined_by, []) AS joined_by
        FROM numbered n JOIN traffic t USING (campaign_id) LEFT JOIN links l USING (campaign_id)
        LEFT JOIN tied j USING (component)"""
