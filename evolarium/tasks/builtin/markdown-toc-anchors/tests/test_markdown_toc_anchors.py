import re

import pytest

from notes.anchors import AnchorSet, slugify
from notes.headings import parse_heading
from notes.render import render_html
from notes.toc import table_of_contents

DOCUMENT = """# Guide

Intro text.

## What's new?

## Install ##

```bash
# install the tool
pip install tool
```

## Usage

### Step 1: Configure

## Usage

#### Usage

## Usage 1

## C++ & Rust
"""

EXPECTED_TOC = """- [Guide](#guide)
  - [What's new?](#whats-new)
  - [Install](#install)
  - [Usage](#usage)
    - [Step 1: Configure](#step-1-configure)
  - [Usage](#usage-1)
  - [Usage 1](#usage-1-1)
  - [C++ & Rust](#c--rust)"""


@pytest.mark.parametrize(
    ("title", "anchor"),
    [
        ("What's new?", "whats-new"),
        ("Step 1: Configure", "step-1-configure"),
        ("C++ & Rust", "c--rust"),
        ("Café au lait_recipes", "café-au-lait_recipes"),
    ],
)
def test_slugify_titles(title, anchor):
    assert slugify(title) == anchor


def test_duplicate_titles_numbered_from_one():
    anchors = AnchorSet()
    assert [anchors.add("Usage") for _ in range(3)] == ["usage", "usage-1", "usage-2"]


def test_suffix_skips_taken_anchor():
    anchors = AnchorSet()
    assert [anchors.add(title) for title in ("Usage 1", "Usage", "Usage")] == [
        "usage-1",
        "usage",
        "usage-2",
    ]


def test_closing_hashes_removed():
    assert parse_heading("## Install ##") == (2, "Install")
    assert parse_heading("### Notes #####   ") == (3, "Notes")
    assert parse_heading("# C#") == (1, "C#")


def test_toc_of_document():
    assert table_of_contents(DOCUMENT) == EXPECTED_TOC


def test_toc_links_match_rendered_ids():
    ids = re.findall(r' id="([^"]*)"', render_html(DOCUMENT))
    links = re.findall(r"\]\(#([^)]*)\)", table_of_contents(DOCUMENT, max_level=6))
    assert links == ids


def test_rendered_duplicate_ids():
    page = render_html(DOCUMENT)
    assert '<h2 id="usage-1">Usage</h2>' in page
    assert '<h4 id="usage-2">Usage</h4>' in page
    assert '<h2 id="install">Install</h2>' in page
