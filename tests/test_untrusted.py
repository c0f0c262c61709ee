"""Outside text cleaned and quoted: what each kind of hostile character becomes."""

from __future__ import annotations

import pytest

from bot.untrusted import clean, quoted, web_url


@pytest.mark.parametrize(
    ("text", "limit", "cleaned"),
    [
        ("plain title", 50, "plain title"),
        ("red\x1b[31m alert\x1b[0m", 50, "red alert"),  # ANSI colour sequences, whole
        ("title\x1b]0;pwned\x07 after", 50, "title after"),  # an OSC window-title sequence, whole
        ("bell\x07 nul\x00 del\x7f end", 50, "bell nul del end"),  # control characters
        ("\u202eEGOD YUB\u202c and \u2066isolate\u2069", 50, "EGOD YUB and isolate"),  # bidi overrides, isolates
        ("zero\u200bwidth\u200c\u200d\ufeff\u2060 joiners", 50, "zerowidth joiners"),  # zero-width, BOM, word joiner
        ("soft\u00adhyphen \ue000private", 50, "softhyphen private"),  # invisible format, private use
        ("one\nline\r\ttabs\u2028sep\u00a0nbsp   runs", 50, "one line tabs sep nbsp runs"),  # every space: one
        ("x" * 20, 10, "xxxxxxxxx…"),  # capped, the cut marked
        ("word " * 5, 11, "word word…"),  # no space before the mark
        (42, 10, "42"),
    ],
)
def test_clean_leaves_one_line_of_visible_characters(text, limit, cleaned):
    assert clean(text, limit=limit) == cleaned


def test_quoted_is_a_json_string_that_cannot_look_like_a_section_marker():
    assert quoted('say "hi" \\ == ACCOUNT ==') == '"say \\"hi\\" \\\\ = ACCOUNT ="'
    assert quoted("=== x ====") == '"= x ="' and quoted("a = b") == '"a = b"'


def test_only_http_links_are_kept():
    assert web_url("https://example.org/a?b=1") == "https://example.org/a?b=1"
    assert web_url("HTTP://EXAMPLE.ORG") == "HTTP://EXAMPLE.ORG"
    for bad in ("javascript:alert(1)", "data:text/html,x", "ftp://x", "", "https://exa mple.org"):
        assert web_url(bad) == ""
