"""What an analyst sees in `dbt docs`: readable code, version pages that say what they are,
an overview page, documented macros, a lineage that reads source -> staging -> parse -> public
models -> analyses, and the smaller things (freshness, seeds, the singular test, analysis vars).

The code checks read the files; the others read target/manifest.json and catalog.json after
`dbt docs generate` on a small built project.
"""

from __future__ import annotations

import functools
import html
import http.server
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO, copy_project

from bootstrap import demo_data, loader

# The folders whose .sql files dbt docs shows as code (models, macros, analyses, singular tests)
CODE_DIRS = ("models", "macros", "analyses", "tests")
# The docs site highlights code with Prism's SQL grammar: `#` starts a comment to the end of
# the line (so the first line of a Jinja comment is safe), but on the next lines a quote,
# double quote or backtick starts a string (or identifier) that runs to the next one, across
# lines, and smears everything in between.
STRING_STARTS = ("'", '"', "`")
JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.S)
JINJA_RAW = re.compile(r"\{%-?\s*raw\s*-?%\}.*?\{%-?\s*endraw\s*-?%\}", re.S)


def code_files() -> list[Path]:
    files = []
    for folder in CODE_DIRS:
        for path in sorted((REPO / folder).rglob("*.sql")):
            if "python" not in path.relative_to(REPO).parts:
                files.append(path)
    return files


def quotes_in_jinja_comments(text: str) -> list[tuple[int, str]]:
    """(line, text) of each line of a Jinja comment that holds a string start."""
    found = []
    # text inside {% raw %} is no Jinja (the parser source, Python, is one such block)
    text = JINJA_RAW.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    for comment in JINJA_COMMENT.finditer(text):
        first = text.count("\n", 0, comment.start()) + 1
        for offset, line in enumerate(comment.group(0).splitlines()):
            if any(q in line for q in STRING_STARTS):
                found.append((first + offset, line.strip()))
    return found


def test_the_scan_finds_a_quote_in_a_jinja_comment() -> None:
    text = "{#- one line\n    the quickstart's table\n-#}\nselect 'a' as b {# it's #}\n"
    assert quotes_in_jinja_comments(text) == [(2, "the quickstart's table"), (4, "{# it's #}")]
    found = quotes_in_jinja_comments('{# `x` #}\n{# a "b" #}')
    assert found == [(1, "{# `x` #}"), (2, '{# a "b" #}')]
    assert quotes_in_jinja_comments("{% raw %}{# it's #}{% endraw %}\n{# its #}") == []


def test_no_jinja_comment_holds_a_quote_the_docs_highlighter_would_smear() -> None:
    found = [
        f"{path.relative_to(REPO)}:{line}: {text}"
        for path in code_files()
        for line, text in quotes_in_jinja_comments(path.read_text())
    ]
    assert code_files() and found == [], "\n".join(found)


# --- the site, from the manifest and catalog of a small built project ---------------------------

SOURCE = "source.s3logs.s3logs.s3_access_logs_raw"
STAGING = "model.s3logs.stg_s3logs__raw_lines"
PARSE = "model.s3logs.int_s3_access_logs__parsed"
FINDINGS = "model.s3logs.s3_access_log_findings.v1"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A day of demo logs, loaded and built (no unit tests: they build nothing), then
    `dbt docs generate`: its manifest and catalog."""
    base = tmp_path_factory.mktemp("docs-site")
    project = copy_project(base / "project")
    demo_data.generate(base / "logs", seed=5, days=1, lines=1_500)
    loader.load_logs(str(base / "logs"), str(project.database))
    project.dbt("build", "--exclude-resource-type", "unit_test")
    project.dbt("docs", "generate")
    target = project.root / "target"
    return {
        "project": project,
        "manifest": json.loads((target / "manifest.json").read_text()),
        "catalog": json.loads((target / "catalog.json").read_text()),
    }


def words(text: str) -> str:
    """Text with its whitespace (line breaks of YAML and Markdown) made single spaces."""
    return " ".join(text.split())


def freshness_phrases(source: dict) -> list[str]:
    """'warn after 6 hours', 'error after 24 hours': what the source's freshness config says."""
    freshness = source["config"]["freshness"] or source["freshness"]
    phrases = []
    for level in ("warn", "error"):
        rule = freshness[f"{level}_after"]
        phrases.append(f"{level} after {rule['count']} {rule['period']}s")
    return phrases


def test_each_version_page_says_what_it_is_which_is_latest_and_when_v1_goes(site: dict) -> None:
    manifest = site["manifest"]
    versions = [
        n for n in manifest["nodes"].values()
        if n["resource_type"] == "model" and n["name"] == "s3_access_logs"
    ]  # fmt: skip
    assert {str(n["version"]) for n in versions} == {"1", "2"}
    shared = words(manifest["docs"]["doc.s3logs.s3_access_logs"]["block_contents"])
    assert "one row per parsed log line" in shared and "request_id" in shared
    deprecated = 0
    for node in versions:
        text = words(node["description"])
        version, latest = node["version"], node["latest_version"]
        # dbt shows the version's description in place of the model's: it must hold both
        assert shared in text, f"v{version} lacks the model description"
        assert f"Version {version} of `s3_access_logs`" in text
        if str(version) == str(latest):
            assert "the latest version" in text
        else:
            assert f"The latest version is v{latest}" in text
        if node["deprecation_date"]:
            deprecated += 1
            assert "deprecated" in text and node["deprecation_date"][:10] in text
    assert deprecated == 1


def test_overview_page_says_what_where_how_fresh_and_how_to_investigate(site: dict) -> None:
    manifest = site["manifest"]
    overview = manifest["docs"].get("doc.s3logs.__overview__")
    assert overview, "no __overview__ doc block: the site shows dbt's stock welcome page"
    text = words(overview["block_contents"])
    for thing in (
        "[s3_access_logs v2](#!/model/model.s3logs.s3_access_logs.v2)",
        "(#!/model/model.s3logs.s3_access_logs_quarantine)",
        "The view named `s3_access_logs`",
        "(#!/model/model.s3logs.s3_access_logs_quickstart)",
        "dbt show -s <analysis> --vars",
        "dbt source freshness",
        *freshness_phrases(manifest["sources"][SOURCE]),
    ):
        assert thing in text, thing
    analyses = [n for n in manifest["nodes"].values() if n["resource_type"] == "analysis"]
    assert len(analyses) >= 6
    for analysis in analyses:
        assert f"#!/analysis/{analysis['unique_id']})" in text, analysis["name"]
    # every link of the page leads to a page of the site
    links = re.findall(r"\]\(#!/(\w+)/([^)]+)\)", text)
    assert len(links) >= 10
    pages = {**manifest["nodes"], **manifest["sources"], **manifest["macros"]}
    for kind, unique_id in links:
        assert unique_id in pages and unique_id.startswith(kind + "."), unique_id


def test_overview_links_to_the_lineage_without_the_unit_tests(site: dict) -> None:
    # dbt docs draws unit tests in the lineage graph and has no setting against it; the
    # overview links to the graph with an exclusion (g_e) by path that must match every unit
    # test and no node the graph should keep
    manifest = site["manifest"]
    text = manifest["docs"]["doc.s3logs.__overview__"]["block_contents"]
    (excluded,) = re.findall(r"\(#!/overview\?g_v=1&g_e=path:([^)\s]+)\)", text)
    unit_tests = manifest["unit_tests"].values()
    assert unit_tests and {u["original_file_path"] for u in unit_tests} == {excluded}
    kept = [*manifest["nodes"].values(), *manifest["sources"].values()]
    assert [
        n["unique_id"]
        for n in kept
        if n["original_file_path"] == excluded
        and (n["resource_type"] != "test" or not n.get("test_metadata"))
    ] == []


def test_every_project_macro_is_documented(site: dict) -> None:
    macros = {
        unique_id: macro
        for unique_id, macro in site["manifest"]["macros"].items()
        if macro["package_name"] == "s3logs"
    }
    assert len(macros) > 30
    undocumented = [unique_id for unique_id, m in macros.items() if not m["description"].strip()]
    assert undocumented == []
    udtf = words(macros["macro.s3logs.create_parser_udtf"]["description"])
    assert "On-run-start hook" in udtf and "unit tests" in udtf


def _ancestors(manifest: dict, unique_id: str) -> set[str]:
    found, todo = set(), [unique_id]
    while todo:
        for parent in manifest["parent_map"].get(todo.pop(), []):
            if parent not in found:
                found.add(parent)
                todo.append(parent)
    return found


def test_lineage_reads_source_staging_parse_public_models_analyses(site: dict) -> None:
    manifest = site["manifest"]
    nodes = manifest["nodes"]
    models = {u: n for u, n in nodes.items() if n["resource_type"] == "model"}
    seeds = {u for u, n in nodes.items() if n["resource_type"] == "seed"}
    public = {u for u, n in models.items() if n["access"] == "public"}
    assert len(public) == 5
    # the findings read the detection models, which read the hourly aggregate of v2
    assert FINDINGS in public
    detections = {u for u in models if u.startswith("model.s3logs.detect_")}
    assert len(detections) == 5
    assert set(nodes[FINDINGS]["depends_on"]["nodes"]) == detections
    # the source is read by the staging view only, the staging view by the parse model only
    readers = {u for u, n in nodes.items() if SOURCE in n["depends_on"].get("nodes", [])}
    assert readers == {STAGING}
    assert nodes[PARSE]["depends_on"]["nodes"] == [STAGING]
    staging_children = {c for c in manifest["child_map"][STAGING] if c in models}
    assert staging_children == {PARSE}
    for unique_id in public - {FINDINGS}:
        assert models[unique_id]["depends_on"]["nodes"] == [PARSE], unique_id
    # no dead end: every model but the public ones feeds a model
    for unique_id in set(models) - public:
        assert any(c in models for c in manifest["child_map"][unique_id]), unique_id
    # analyses read the latest public models and the seeds
    latest = "model.s3logs.s3_access_logs.v2"
    for node in nodes.values():
        if node["resource_type"] == "analysis":
            assert latest in node["depends_on"]["nodes"], node["name"]
            assert set(node["depends_on"]["nodes"]) <= {latest, FINDINGS, *seeds}, node["name"]


def test_no_data_test_holds_back_the_parse(site: dict) -> None:
    # dbt build runs a node after every test whose nodes are all upstream of it: a test on
    # the staging view (or the source) would make the parse wait for a scan of the raw table
    manifest = site["manifest"]
    upstream = _ancestors(manifest, PARSE)
    assert upstream == {STAGING, SOURCE}
    tests = [n for n in manifest["nodes"].values() if n["resource_type"] == "test"]
    assert tests
    holding = [t["name"] for t in tests if set(t["depends_on"]["nodes"]) <= upstream]
    assert holding == []
    # the key of the staging view is tested where it holds nothing back: the singular test
    # reads it with the models its lines land in
    keyed = {
        t["attached_node"]
        for t in tests
        if (t.get("test_metadata") or {}).get("name") == "primary_key"
    }
    models = {u for u, n in manifest["nodes"].items() if n["resource_type"] == "model"}
    assert models - keyed == {STAGING}
    lost = manifest["nodes"]["test.s3logs.assert_no_raw_line_lost"]["depends_on"]["nodes"]
    assert STAGING in lost and len(lost) > 1


def test_source_states_its_freshness_rule_and_points_to_nothing_outside(site: dict) -> None:
    manifest = site["manifest"]
    source = manifest["sources"][SOURCE]
    for text in (source["description"], source["source_description"]):
        for phrase in freshness_phrases(source):
            assert phrase in words(text), phrase
    described = [
        *(n.get("description", "") for n in manifest["nodes"].values()),
        *(s.get("description", "") for s in manifest["sources"].values()),
        *(s.get("source_description", "") for s in manifest["sources"].values()),
        *(m.get("description", "") for m in manifest["macros"].values()),
        *(d.get("block_contents", "") for d in manifest["docs"].values()),
    ]
    for text in described:
        assert "DESIGN.md" not in text and "../shared" not in text


def test_seeds_declare_column_types_and_persist_column_comments(site: dict) -> None:
    manifest, catalog = site["manifest"], site["catalog"]
    seeds = [n for n in manifest["nodes"].values() if n["resource_type"] == "seed"]
    assert len(seeds) == 3
    for seed in seeds:
        declared = {k.lower(): v.lower() for k, v in seed["config"]["column_types"].items()}
        built = catalog["nodes"][seed["unique_id"]]["columns"]
        assert {c.lower(): col["type"].lower() for c, col in built.items()} == declared
        assert seed["config"]["persist_docs"] == {"relation": True, "columns": True}
        for name, column in built.items():
            described = seed["columns"][name.lower()]["description"]
            assert column["comment"] and words(column["comment"]) == words(described), name


def test_singular_tests_are_described(site: dict) -> None:
    singular = [
        n
        for n in site["manifest"]["nodes"].values()
        if n["resource_type"] == "test" and not n.get("test_metadata")
    ]
    described = {
        "assert_no_raw_line_lost": "Nothing is dropped silently",
        "new_s3_access_log_findings": "The alert of a scheduled build",
        "assert_no_object_loaded_twice": "No object is loaded twice",
        "assert_no_failed_log_objects": "Objects that could not be loaded are not forgotten",
    }
    assert sorted(n["name"] for n in singular) == sorted(described)
    for test in singular:
        assert described[test["name"]] in test["description"]


def test_analysis_descriptions_say_their_vars(site: dict) -> None:
    analyses = [n for n in site["manifest"]["nodes"].values() if n["resource_type"] == "analysis"]
    assert len(analyses) >= 6
    for analysis in analyses:
        variables = analysis["config"]["meta"]["vars"]
        assert variables, analysis["name"]
        text = words(analysis["description"])
        for name, what in variables.items():
            assert f"- `{name}`: {words(what)}" in text, (analysis["name"], name)
        assert f"dbt show -s {analysis['name']} --vars" in text


# --- the site in a real browser (headless Chromium, Debian package chromium) -------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# .ci/run installs chromium and sets this: there, a missing browser fails the check instead of
# skipping it, so the check runs on every CI run
REQUIRE_BROWSER = bool(os.environ.get("S3LOGS_REQUIRE_BROWSER"))
needs_browser = pytest.mark.skipif(
    CHROMIUM is None and not REQUIRE_BROWSER, reason="no chromium: apt-get install chromium"
)
PUBLIC_PAGES = (
    "model.s3logs.s3_access_logs.v2",
    "model.s3logs.s3_access_logs.v1",
    "model.s3logs.s3_access_logs_quickstart",
    "model.s3logs.s3_access_logs_quarantine",
    "model.s3logs.s3_access_log_findings.v1",
)
ANALYSES = (
    "dlp_large_downloads_from_new_ips",
    "ir_access_denied_scans",
    "ir_anonymous_access",
    "ir_configuration_changes",
    "ir_cross_account_access",
    "ir_delete_bursts",
    "ir_finding_evidence",
    "ir_insecure_transport",
    "ir_object_history",
    "ir_presigned_url_usage",
    "ir_principal_activity",
    "ir_remote_ip_activity",
    "quickstart_access_denied",
    "quickstart_anonymous_requests",
    "quickstart_object_deletes",
    "quickstart_principal_actions",
    "quickstart_requests_by_ip",
    "quickstart_traffic_by_ip",
)
RENDERED_CODE = re.compile(
    r'<code class="source-code highlight ng-binding[^"]*"[^>]*>(.*?)</code>', re.S
)
# what the highlighter marked as a string or a backquoted identifier
HIGHLIGHTED_STRING = re.compile(r'<span class="token (?:string|identifier)">(.*?)</span>', re.S)


@pytest.fixture(scope="module")
def served(site: dict) -> Iterator[str]:
    """The generated site (target/) served on loopback: the URL of its index.html."""
    target = site["project"].root / "target"

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(target))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
        server.shutdown()


def rendered(url: str, profile: Path) -> tuple[str, str]:
    """(the page's text, its DOM) once the docs app has rendered it in headless Chromium."""
    assert CHROMIUM, "no chromium on PATH: apt-get install chromium (.ci/run does)"
    cmd = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={profile}", "--virtual-time-budget=8000",
        "--dump-dom", url,
    ]  # fmt: skip
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout
    return words(html.unescape(re.sub(r"<[^>]+>", " ", dom))), dom


def code_as_shown(dom: str) -> str:
    (block,) = RENDERED_CODE.findall(dom)
    return html.unescape(re.sub(r"<[^>]+>", "", block))


@needs_browser
@pytest.mark.parametrize(
    ("page", "shows"),
    [
        ("overview", ["Where to start", "How fresh the data is", "How to run an investigation"]),
        ("model/model.s3logs.s3_access_logs.v1", ["deprecated, removed on 2027-06-30"]),
        ("model/model.s3logs.s3_access_logs.v2", ["the latest version"]),
        ("model/model.s3logs.int_s3_access_logs__parsed", []),
        ("analysis/analysis.s3logs.ir_object_history", ["all optional"]),
        ("macro/macro.s3logs.create_parser_udtf", ["Why a hook, not a pre-hook"]),
    ],
)
def test_pages_render_their_text_and_their_code_verbatim_and_unsmeared(
    site: dict, served: str, tmp_path: Path, page: str, shows: list[str]
) -> None:
    text, dom = rendered(f"{served}#!/{page}", tmp_path / "chromium")
    for phrase in shows:
        assert phrase in text, phrase
    if page == "overview":
        return
    unique_id = page.split("/", 1)[1]
    manifest = site["manifest"]
    node = manifest["nodes"].get(unique_id) or manifest["macros"][unique_id]
    if node["resource_type"] == "model" and node["version"]:
        shared = words(manifest["docs"]["doc.s3logs.s3_access_logs"]["block_contents"])
        # as rendered: no Markdown marks; tags, so spaces, around what was code
        assert re.sub(r"[`*\s]", "", shared) in re.sub(r"\s", "", text)
    # the Source tab shows the file as written, and no string the highlighter found runs over
    # a line end (which is how a stray quote smears the lines after it)
    source = node.get("raw_code") or node["macro_sql"]
    assert code_as_shown(dom).rstrip() == source.rstrip()
    smeared = [s for s in HIGHLIGHTED_STRING.findall(dom) if "\n" in s]
    assert smeared == []


@needs_browser
@pytest.mark.parametrize("unique_id", PUBLIC_PAGES)
def test_each_public_model_page_shows_its_description_and_every_column(
    site: dict, served: str, tmp_path: Path, unique_id: str
) -> None:
    text, _ = rendered(f"{served}#!/model/{unique_id}", tmp_path / "chromium")
    node = site["manifest"]["nodes"][unique_id]
    assert node["columns"]
    for column in node["columns"]:
        assert column in text, column
    first_words = re.sub(r"[`*]", "", words(node["description"]))[:60]
    assert first_words in re.sub(r"[`*]", "", text), first_words


@needs_browser
@pytest.mark.parametrize("name", ANALYSES)
def test_each_analysis_page_shows_its_description(
    site: dict, served: str, tmp_path: Path, name: str
) -> None:
    unique_id = f"analysis.s3logs.{name}"
    assert unique_id in site["manifest"]["nodes"], "an analysis is missing from the check"
    description = site["manifest"]["nodes"][unique_id]["description"]
    # markup and the spaces around it are left out on both sides: a code span in the text is
    # its own element, so the page's text has spaces where the description has none
    first_words = re.sub(r"[\s`*]", "", description)[:60]
    text, _ = rendered(f"{served}#!/analysis/{unique_id}", tmp_path / "chromium")
    assert first_words in re.sub(r"[\s`*]", "", text), first_words


@needs_browser
def test_lineage_graph_draws_the_project(site: dict, served: str, tmp_path: Path) -> None:
    _, dom = rendered(f"{served}#!/overview?g_v=1", tmp_path / "chromium")
    # the graph panel is open and drawn (cytoscape canvases), with its selectors
    assert "<canvas" in dom
    for shown in ("Lineage Graph", "Update Graph", "--exclude"):
        assert shown in dom, shown


def test_every_analysis_is_in_the_browser_check() -> None:
    on_disk = {p.stem for p in (REPO / "analyses").glob("*.sql")}
    assert on_disk == set(ANALYSES)
