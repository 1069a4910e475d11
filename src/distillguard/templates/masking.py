"""Masking and framing: SQL that turns a prompt into the template it was filled from.

Two prompts come from one template when they differ only where the template had a slot. Slots are found in
two ways, both as SQL expressions (RE2 regular expressions, list functions) so they run inside the engine
over distinct texts:

1. **Masks** replace values that vary by nature with a placeholder: fenced and inline code (`<code>`),
   URLs (`<url>`), e-mail addresses (`<email>`), UUIDs, long hex strings and long key-like tokens (`<id>`),
   quoted strings (`<str>`) and numbers, dates, times and versions (`<num>`). Text is lower-cased and runs
   of spaces collapsed; line breaks are kept because they delimit a template's parts.
2. **Frames** mask the content slot itself. A masked prompt is cut into segments (lines, and sentences
   ending in `.`, `:`, `?`, `!` or `;`). A segment is *fixed* when it recurs among the first or last
   `window` segments of many distinct prompts ("Write code for this:", "### Instruction", "Think step by
   step.", "Vary length and tone."). The frame of a prompt is its leading run and its trailing run of
   fixed segments; everything between becomes `<*>`. A run stops at a segment much rarer than the one
   before it (`continuation`), which is where a popular wrapper meets popular content, and a run made
   only of placeholders (`<num>` as the last line of a code exercise) is no frame.
"""

from __future__ import annotations

from distillguard.engines.base import sql_literal

PLACEHOLDERS = ("code", "url", "email", "id", "str", "num")

# (RE2 pattern, replacement), applied in order: code first (it may hold anything), numbers last (other
# masks contain digits). Quotes must open after a boundary so apostrophes in "don't ... it's" stay text.
MASKS: tuple[tuple[str, str], ...] = (
    (r"```[\s\S]*?(?:```|$)", " <code> "),
    (r"`[^`\n]{1,200}`", "<code>"),
    (r"(?i)\b(?:https?://|www\.)\S+", "<url>"),
    (r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", "<email>"),
    (r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", "<id>"),
    (r"\b[A-Za-z0-9_+/=-]{24,}", "<id>"),
    (r"(?i)\b(?:0x)?[0-9a-f]{12,}\b", "<id>"),
    (r"\"[^\"\n]{1,300}\"|“[^”\n]{1,300}”", "<str>"),
    (r"(^|[\s(\[{:=,])'[^'\n]{1,300}'", r"\1<str>"),
    (r"[-+]?\d+(?:[.,:/-]\d+)*", "<num>"),
)


def mask_sql(expr: str) -> str:
    """SQL for the masked, lower-cased form of the text `expr` (line breaks kept, spaces collapsed)."""
    out = expr
    for pattern, replacement in MASKS:
        out = f"regexp_replace({out}, {sql_literal(pattern)}, {sql_literal(replacement)}, 'g')"
    return f"regexp_replace(lower({out}), '[ \\t\\r\\f\\v]+', ' ', 'g')"


def segments_sql(masked: str) -> str:
    """SQL for the list of non-empty, trimmed segments (lines and sentences) of a masked text."""
    marked = f"regexp_replace({masked}, '([.:?!;]) +| *\\n\\s*', '\\1' || chr(30), 'g')"
    return f"list_filter(list_transform(string_split({marked}, chr(30)), lambda s: trim(s)), lambda s: s <> '')"


def blank_sql(segment: str) -> str:
    """SQL: true when a segment holds nothing but placeholders and punctuation (a value, not a frame)."""
    names = "|".join(PLACEHOLDERS)
    return f"regexp_replace({segment}, '<(?:{names})>|[^\\pL\\pN]', '', 'g') = ''"


def flat_sql(expr: str) -> str:
    """SQL: a masked text or template on one line (for display and shingling)."""
    return f"trim(regexp_replace({expr}, '\\s+', ' ', 'g'))"


def words_sql(text: str, max_words: int) -> str:
    """SQL: the first `max_words` words of a text; words are runs of letters, digits and placeholder
    brackets, so punctuation and layout (bullets, numbering, line breaks) do not tell renderings apart."""
    return (
        f"list_filter(string_split(regexp_replace({text}, '[^\\pL\\pN<>*]+', ' ', 'g'), ' '), "
        f"lambda w: w <> '')[1:{max_words}]"
    )


def shingles_sql(words: str, text: str) -> str:
    """SQL: the word bigrams of a word list (one word: that word; no words: the whole text)."""
    return f"""CASE WHEN len({words}) = 0 THEN [{text}]
        WHEN len({words}) = 1 THEN {words}
        ELSE list_transform(range(1, len({words})), lambda i: {words}[i] || ' ' || {words}[i + 1]) END"""
