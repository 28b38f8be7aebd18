"""The man-pages reader on Debian's installed pages and on roff written here."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from luxical_st.data import manpages


def test_reads_the_linux_man_pages_once_each() -> None:
    pages = manpages.man_pages()
    assert len(pages) > 1000
    assert {page.section for page in pages} == set(manpages.SECTIONS)
    assert len({(page.name, page.section) for page in pages}) == len(pages)  # links resolved: no twins
    by_name = {(page.name, page.section): page for page in pages}
    opened = by_name[("open", "2")]
    assert opened.names == "open, openat, creat"
    assert opened.summary == "open and possibly create a file"
    assert opened.description.startswith("The open() system call opens the file specified by pathname.")
    assert opened.includes == ("fcntl.h",)
    assert not any("\\f" in page.summary or "\\-" in page.summary for page in pages)
    # a backslash left in a description is C's own escape written \e in roff ("form feed (\\f)")
    assert sum("\\fB" in page.description or "\\fI" in page.description for page in pages) <= 1  # man(7)


def test_roff_escapes_and_font_macros_become_plain_text() -> None:
    source = "\n".join(
        [
            '.\\" a comment that is dropped',
            '.TH demo 3 2023-02-05 "Linux man-pages 6.03"',
            ".SH NAME",
            "demo \\- show \\fBbold\\fP and \\(aqquoted\\(aq text",
            ".SH SYNOPSIS",
            ".B #include <math.h>",
            ".SH DESCRIPTION",
            ".BR demo ()",
            "returns",
            ".IR x \\-1.",
            ".PP",
            "A second paragraph.",
        ]
    )
    title, sections = manpages.roff_sections(source) or ([], {})
    assert title[:2] == ["demo", "3"]
    assert sections["NAME"] == "demo - show bold and 'quoted' text"
    assert sections["DESCRIPTION"] == "demo() returns x-1. A second paragraph."


def test_links_other_projects_and_pages_without_description_are_skipped(tmp_path: Path) -> None:
    def page(name: str, text: str) -> Path:
        path = tmp_path / "man3" / f"{name}.3.gz"
        path.parent.mkdir(exist_ok=True)
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            handle.write(text)
        return path

    kept = page(
        "kept", '.TH kept 3 x "Linux man-pages 6.03"\n.SH NAME\nkept \\- a page\n.SH DESCRIPTION\nText.\n'
    )
    page("link", ".so man3/kept.3\n")
    page("other", '.TH other 3 x "OpenSSL"\n.SH NAME\nother \\- a page\n.SH DESCRIPTION\nText.\n')
    page("bare", '.TH bare 3 x "Linux man-pages 6.03"\n.SH NAME\nbare \\- no description\n')
    (tmp_path / "man3" / "alias.3.gz").symlink_to(kept)
    pages = manpages.man_pages.__wrapped__(tmp_path)
    assert [(page.name, page.summary, page.description) for page in pages] == [("kept", "a page", "Text.")]


def test_missing_pages_name_the_install_command(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="apt-get install manpages"):
        manpages.man_pages.__wrapped__(tmp_path)
