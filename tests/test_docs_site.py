"""The documentation site builds with ``mkdocs build --strict`` (a broken link, a missing page or
anchor, any warning fails it), the configuration reference lists the schema's keys, results pages
end with their run's summary as ``scripts/publish-results`` copied it, and README stays a door."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from fixtures_docs import REPO, SCHEMA, build_site, publish_results, site_source


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    result = build_site(REPO, out)
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture
def copy(tmp_path) -> Path:
    """What the site is built from, in a scratch folder that a test may break."""
    return site_source(tmp_path / "repo")


def test_the_reference_lists_every_key_of_the_schema(site):
    page = (site / "reference" / "config" / "index.html").read_text()
    schema = yaml.safe_load(SCHEMA.read_text())
    keys = [f"{section}.{key}" for section, body in schema["properties"].items()
            for key in body.get("properties", {})]
    keys += [f"{section}.&lt;name&gt;.{key}" for section, body in schema["properties"].items()
             if isinstance(body.get("additionalProperties"), dict)
             for key in body["additionalProperties"].get("properties", {})]
    assert len(keys) > 100
    assert [key for key in keys if f"<code>{key}</code>" not in page] == []
    # a key documented only by its `#` comment (pretrain.collapse_gap has no description)
    assert "description" not in schema["properties"]["pretrain"]["properties"]["collapse_gap"]
    assert "positive minus negative pair cosine falls below this" in page


def test_a_results_page_ends_with_its_runs_summary(site):
    page = (site / "results" / "laptop-study" / "index.html").read_text()
    summary = (REPO / "docs" / "results" / "laptop-study" / "run" / "summary.md").read_text()
    assert "Reading it honestly" in page                           # written by hand
    first_row = next(line for line in summary.splitlines() if line.startswith("| N2 |"))
    assert first_row.split(" | ")[1] in page                       # the run's own table
    assert page.index("Reading it honestly") < page.index(first_row.split(" | ")[1])
    for image in re.findall(r'<img[^>]*src="([^"]+)"', page):      # its figures resolve
        assert (site / "results" / "laptop-study" / image).resolve().is_file(), image


def test_a_broken_link_fails_the_build(copy, tmp_path):
    page = copy / "docs" / "engine.md"
    page.write_text(page.read_text() + "\nSee [the cascade](no-such-page.md).\n")
    result = build_site(copy, tmp_path / "site")
    assert result.returncode != 0
    assert "no-such-page.md" in result.stderr


def test_a_results_page_without_its_summary_fails_the_build(copy, tmp_path):
    (copy / "docs" / "results" / "shared-shower-small" / "run" / "summary.md").unlink()
    result = build_site(copy, tmp_path / "site")
    assert result.returncode != 0
    assert "shared-shower-small" in result.stderr and "publish-results" in result.stderr


def fake_run(root: Path, table_row: str = "| N2 | 42.0 |") -> Path:
    """A results directory as a finished run leaves it: summary.md and the figures it links."""
    (root / "evaluate" / "t").mkdir(parents=True)
    (root / "train" / "b").mkdir(parents=True)
    (root / "evaluate" / "t" / "roc.png").write_bytes(b"roc")
    (root / "train" / "b" / "curves.png").write_bytes(b"curves")
    (root / "summary.md").write_text(
        "# resim run `fake`\n\n## Task `t`\n\n| Signal efficiency | 0.5 |\n|---|---|\n"
        f"{table_row}\n\nPlots: [roc](evaluate/t/roc.png)\n\n"
        "![training curves](train/b/curves.png) ![remote](https://example.org/x.png)\n")
    return root


def test_publish_copies_the_summary_and_its_figures_and_the_site_shows_them(copy, tmp_path):
    run = fake_run(tmp_path / "results")
    result = publish_results(str(run), "--name", "laptop-study", "--docs", str(copy / "docs"))
    assert result.returncode == 0, result.stderr
    out = copy / "docs" / "results" / "laptop-study" / "run"
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == \
        ["evaluate/t/roc.png", "summary.md", "train/b/curves.png"]   # the old tables are gone
    assert (out / "summary.md").read_bytes() == (run / "summary.md").read_bytes()
    assert (out.parent / "index.md").read_text().startswith("# Laptop study")  # hand-written, kept
    built = build_site(copy, tmp_path / "site")
    assert built.returncode == 0, built.stderr
    page = (tmp_path / "site" / "results" / "laptop-study" / "index.html").read_text()
    assert "42.0" in page and 'src="run/train/b/curves.png"' in page
    assert (tmp_path / "site" / "results" / "laptop-study" / "run" / "train" / "b"
            / "curves.png").is_file()


def test_publish_refuses_a_run_without_summary_or_figure_and_writes_nothing(copy, tmp_path):
    docs = copy / "docs"
    before = {p: p.read_bytes() for p in docs.rglob("*") if p.is_file()}
    missing = publish_results(str(tmp_path / "nothing"), "--name", "laptop-study", "--docs", str(docs))
    run = fake_run(tmp_path / "results")
    (run / "train" / "b" / "curves.png").unlink()
    no_figure = publish_results(str(run), "--name", "laptop-study", "--docs", str(docs))
    inside = publish_results(str(docs / "results" / "laptop-study"), "--name", "laptop-study",
                     "--docs", str(docs))
    for result, says in ((missing, "summary.md: no summary"), (no_figure, "train/b/curves.png"),
                         (inside, "overlap")):
        assert result.returncode == 2
        assert len(result.stderr.strip().splitlines()) == 1 and says in result.stderr
    assert {p: p.read_bytes() for p in docs.rglob("*") if p.is_file()} == before


def test_readme_is_a_door():
    lines = (REPO / "README.md").read_text().splitlines()
    assert len(lines) <= 300
    first_block = lines[lines.index("```bash") + 1:lines.index("```")]
    assert first_block == ["make reproduce", "make test"]       # a fresh machine's two commands
    linked = set(re.findall(r"\]\((docs/[^)#]+\.md)", "\n".join(lines)))
    pages = {str(p.relative_to(REPO)) for p in (REPO / "docs").glob("*.md") if p.name != "index.md"}
    assert pages <= linked, f"README does not lead to {sorted(pages - linked)}"


def schema_keys(schema: dict, prefix: str = "") -> set[str]:
    """Every key path of the schema, a mapping of names as ``<name>``."""
    keys = set()
    for key, child in (schema.get("properties") or {}).items():
        keys |= {prefix + key} | schema_keys(child, f"{prefix}{key}.")
    if isinstance(schema.get("additionalProperties"), dict):
        keys |= schema_keys(schema["additionalProperties"], f"{prefix}<name>.")
    return keys


def test_the_configuration_guide_names_only_keys_the_schema_has():
    """The guide's tables explain keys in words; a key renamed in the schema must not stay
    behind in them (the generated reference follows by itself)."""
    keys = schema_keys(yaml.safe_load(SCHEMA.read_text()))
    named, section = [], None
    for line in (REPO / "docs" / "configuration.md").read_text().splitlines():
        if line.startswith("## `"):
            section = line[4:].rstrip("`")
        elif section and line.startswith("| `"):
            first_cell = line.split(" | ")[0]
            named += [f"{section}.{key}" for key in re.findall(r"`([^`]+)`", first_cell)]
    assert len(named) > 100
    assert [key for key in named if key not in keys] == []
