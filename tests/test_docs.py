"""The repository's own docs stand alone: a reader has no product spec to look things up in.

The spec that guided the work lives outside the repository, so a "SPEC §5.5" in the README,
docs/, sandbox/README.md or .env.example sends a reader nowhere; what they need is written
here (docs/reference.md for the formats, the triage fields and the metrics). Tests and code
docstrings may still cite it for developers. Slack's published API spec (`NEWER_THAN_SPEC`,
`SPEC_PATH` in sandbox/) is a different thing, in the repository, and stays.
"""

from __future__ import annotations

import re

from tests.harness import REPO

PRODUCT_SPEC = re.compile(r"\bSPEC\s*§|\bSPEC\.md|§\s*\d")


def _user_docs() -> list[str]:
    paths = [REPO / "README.md", REPO / ".env.example", REPO / "sandbox" / "README.md"]
    paths += sorted((REPO / "docs").glob("**/*.md"))
    return [str(p.relative_to(REPO)) for p in paths if p.exists()]


def test_no_user_doc_cites_the_product_spec() -> None:
    cited = [
        f"{name}:{number}: {line.strip()}"
        for name in _user_docs()
        for number, line in enumerate((REPO / name).read_text(encoding="utf-8").splitlines(), 1)
        if PRODUCT_SPEC.search(line)
    ]
    assert not cited, "\n".join(cited)


def test_the_readme_links_resolve_inside_the_repository() -> None:
    """Every relative link in the README and docs/ names a file that is here."""
    missing = []
    for name in _user_docs():
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", (REPO / name).read_text("utf-8")):
            if "://" not in target and not (REPO / name).parent.joinpath(target).exists():
                missing.append(f"{name} → {target}")
    assert not missing, missing
