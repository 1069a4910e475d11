"""Intelligence sharing and attribution: export a campaign's distinctive indicators (STIX 2.1, MISP), import
partners' indicators and match them against our own traffic, and attribute campaigns to actors with a stated
confidence. Design and rules: docs/intel.md.
"""
