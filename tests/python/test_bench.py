"""Smoke test of `make bench` at tiny sizes: it runs and its counts add up (no timing asserts)."""

from __future__ import annotations

import json

import pytest
import s3_server

from bootstrap import bench, pipeline

fake_aws = s3_server.fake_aws


def test_baseline_is_the_quickstart_udtf_with_the_26_group_athena_regex():
    import re

    assert re.compile(bench.ATHENA_PATTERN).groups == bench.BASELINE_GROUPS == 26
    line = (
        "79a5 awsexamplebucket1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 79a5 3E57427F3EXAMPLE "
        'REST.GET.VERSIONING - "GET /awsexamplebucket1?versioning HTTP/1.1" 200 - 113 - 7 - '
        '"-" "S3Console/0.4" - s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/'
        "VLi31234= SigV2 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader awsexamplebucket1.s3.us-west-1."
        "amazonaws.com TLSV1.2 arn:aws:s3:us-west-1:123456789012:accesspoint/example Yes"
    )
    (row,) = bench.baseline_parse(line)
    assert row[2] == "06/Feb/2019:00:00:38 +0000"
    assert row[8] == "GET /awsexamplebucket1?versioning HTTP/1.1"  # quotes stripped by clean()
    assert row[7] is None and row[25] == "Yes"
    legacy = line[: line.index('"S3Console/0.4"') + len('"S3Console/0.4"')]
    assert bench.baseline_parse(legacy) == []  # 17 fields: the regex has no match, no row


def test_parser_bench_counts_add_up():
    res = bench.parser_bench(count=400, rounds=1, seed=7)
    acc = res.accuracy
    assert res.lines == acc.lines == 400
    assert acc.ours_parsed + acc.ours_rejected == res.lines  # never drops a line
    assert acc.ours_wrong == 0
    assert acc.baseline_matched + acc.baseline_dropped == res.lines
    assert res.subset_lines == acc.baseline_matched
    assert acc.baseline_dropped > 0  # the corpus has legacy lines and quotes in user-agents
    assert sum(acc.dropped_shapes.values()) == acc.baseline_dropped
    for subset in (False, True):
        for name in (bench.OURS, bench.OURS_ROW, bench.OURS_UDTF):
            ratio = res.ratio(name, subset)
            assert isinstance(ratio, float) and ratio > 0
    text = bench.describe_parser(res)
    assert "ratio parse_line / baseline" in text and "dropped silently" in text
    assert "UDTF / quickstart UDTF, like for like" in text and "target >= 1.5x" in text


def test_udtf_contender_is_the_handler_snowflake_runs():
    line = bench.make_corpus(1, seed=3)[0][0]
    assert bench.udtf_parse(line) == [bench.parser.parse_row(line)]
    assert bench.udtf_parse("garbage")[0][-1] == "no bracketed time field"


def test_escaped_corpus_has_escaped_keys_and_arn_requesters_and_parses_to_its_records():
    lines, records = bench.make_corpus(300, seed=5, corpus="escaped")
    assert all(rec[4].startswith("arn:aws:") for rec in records)
    assert all(rec[7].count("%") >= 4 for rec in records)
    assert [bench.parser.parse_line(line) for line in lines] == records
    res = bench.parser_bench(count=300, rounds=1, seed=5, corpus="escaped")
    assert res.accuracy.ours_wrong == 0 and res.corpus == "escaped"
    assert res.subset_lines == res.accuracy.baseline_matched > 0
    assert "escaped corpus" in bench.describe_parser(res)


def test_write_log_objects_is_loadable_and_deterministic(tmp_path):
    from bootstrap.loader import is_log_object

    first = bench.write_log_objects(tmp_path / "a", 250, lines_per_object=100, workers=1)
    again = bench.write_log_objects(tmp_path / "b", 250, lines_per_object=100, workers=2)
    assert first == again and first[:2] == (3, 250)
    files = sorted(p for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert len(files) == 3 and all(is_log_object(str(p)) for p in files)
    assert sum(len(p.read_text().splitlines()) for p in files) == 250
    other = sorted(p for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert [p.read_bytes() for p in files] == [p.read_bytes() for p in other]


@pytest.mark.timeout(600)
def test_e2e_bench_counts_add_up(tmp_path):
    res = bench.e2e_bench(
        300, workdir=tmp_path, modes=("run",), lines_per_object=100, incremental_rounds=2
    )
    run = res.modes["run"]
    assert res.load_lines == 300 and res.extra_lines == 3
    assert run.rows["raw"] == res.lines == 306
    assert len(run.incremental_rounds) == 2 and run.incremental.seconds in run.incremental_rounds
    assert run.rows["raw"] == run.rows["v2"] + run.rows["quarantine"]
    assert run.rows["quarantine"] == res.malformed
    assert res.rate("run") > 0 and run.fraction > 0
    assert "model.s3logs.int_s3_access_logs__parsed" in run.full.nodes
    assert "raw 306 = v2" in bench.describe_e2e(res)


def test_cli_parser_only_writes_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    args = ["--skip-e2e", "--parser-lines", "200", "--escaped-lines", "100", "--rounds", "1"]
    assert bench.main([*args, "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["parser"]["ratio_whole"] > 0 and report["parser"]["ratio_subset"] > 0
    for key in ("parser", "parser_escaped"):
        assert report[key]["ratio_udtf_subset"] > 0 and report[key]["ratio_udtf_whole"] > 0
    assert report["parser_escaped"]["lines"] == 100
    assert "e2e" not in report
    assert "Machine:" in capsys.readouterr().out


def test_help_runs(capsys):
    with pytest.raises(SystemExit) as exc:
        bench.main(["--help"])
    assert exc.value.code == 0
    shown = capsys.readouterr().out
    assert "--skip-parser" in shown
    # argparse formats help strings with %, not the description: no doubled percent sign shown
    assert "%%" not in shown and "10% of a full build" in " ".join(shown.split())


@pytest.mark.timeout(600)
def test_e2e_bench_pipeline_mode_counts_add_up(tmp_path):
    res = bench.e2e_bench(
        300, workdir=tmp_path, modes=("pipeline",), lines_per_object=100, incremental_rounds=2
    )
    mode = res.modes["pipeline"]
    assert mode.rows["raw"] == res.lines == 306
    assert len(mode.incremental_rounds) == 2
    assert mode.rows["raw"] == mode.rows["v2"] + mode.rows["quarantine"]
    assert mode.first_load is not None and mode.first_load.lines == 300
    assert mode.extra_load is not None and mode.extra_load.lines == 3
    # the first cycle builds everything; the second, the parse model and the tests only
    assert "model.s3logs.s3_access_logs.v2" in mode.full.nodes
    assert "model.s3logs.int_s3_access_logs__parsed" in mode.incremental.nodes
    assert "model.s3logs.s3_access_logs.v2" not in mode.incremental.nodes
    assert any(uid.startswith("test.") for uid in mode.incremental.nodes)
    assert res.rate("pipeline") > 0 and mode.fraction > 0
    assert "s3logs run (load + dbt build, one process)" in bench.describe_e2e(res)
    # the detection layer: built by the first cycle, left out of later ones (s3logs run's
    # interval is 15 minutes)
    assert "model.s3logs.detect_egress_anomaly" in mode.full.nodes
    assert not [uid for uid in mode.incremental.nodes if "detect" in uid]


@pytest.mark.timeout(600)
def test_e2e_bench_pipeline_mode_times_later_cycles_that_rebuild_the_detections(tmp_path):
    res = bench.e2e_bench(
        300,
        workdir=tmp_path,
        modes=("pipeline",),
        lines_per_object=100,
        incremental_rounds=1,
        detect_every=0,
    )
    later = res.modes["pipeline"].incremental.nodes
    assert "model.s3logs.int_s3_access_logs__hourly_activity" in later
    assert "model.s3logs.detect_egress_anomaly" in later
    assert "model.s3logs.s3_access_log_findings.v1" in later
    assert "model.s3logs.s3_access_logs.v2" not in later


def test_e2e_bench_pipeline_mode_runs_on_to_the_cycle_that_merges_row_groups(tmp_path, monkeypatch):
    # 3 extra lines per cycle: with row groups merged every 9 lines, the third later cycle
    # merges; the bench goes past its 2 rounds to it, and reports it
    monkeypatch.setattr(pipeline, "MERGE_ROWS", 9)
    res = bench.e2e_bench(
        300, workdir=tmp_path, modes=("pipeline",), lines_per_object=100, incremental_rounds=2
    )
    mode = res.modes["pipeline"]
    assert len(mode.incremental_rounds) == 2
    assert mode.merge is not None and mode.merge.cycle == 3
    assert len(mode.merge.later_seconds) == 3
    assert mode.merge.later_seconds[:2] == mode.incremental_rounds
    assert mode.rows["raw"] == 300 + 3 * 3 and mode.merge.lines_after_rounds == 3
    assert mode.rows["raw"] == mode.rows["v2"] + mode.rows["quarantine"]
    assert "merged the small row groups" in bench.describe_e2e(res)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("corpus", ["random", "demo"])
def test_detections_bench_times_the_build_with_and_without_the_detection_layer(tmp_path, corpus):
    res = bench.detections_bench(3_000, corpus=corpus, workdir=tmp_path, repeats=1)
    assert res["corpus"] == corpus
    assert res["builds_without_s"] == [res["build_without_s"]]
    assert res["builds_with_s"] == [res["build_with_s"]]
    assert "medians of" not in res["summary"]
    assert res["build_without_s"] > 0 and res["build_with_s"] > 0
    expected = (res["build_with_s"] - res["build_without_s"]) / res["build_without_s"]
    assert res["added_fraction"] == pytest.approx(expected)
    # only the detection layer's nodes differ between the two builds
    assert "model.s3logs.s3_access_log_findings.v1" in res["nodes"]
    assert "model.s3logs.detect_egress_anomaly" in res["nodes"]
    assert not [uid for uid in res["nodes"] if "s3_access_logs_v2" in uid]
    assert "target <= +20%" in res["summary"]
    if corpus == "random":
        assert (
            "Detections (a random address per line): full dbt build of 3,000 lines"
            in (res["summary"])
        )
    else:  # the demo's traffic, with its planted incidents: the layer finds something
        assert "Detections (s3logs demo-data traffic): full dbt build of " in res["summary"]
        assert res["lines"] > 2_000 and res["findings"]


def test_detections_bench_names_its_corpora(tmp_path):
    with pytest.raises(ValueError, match="corpus must be one of random, demo, not 'rnd'"):
        bench.detections_bench(3_000, corpus="rnd", workdir=tmp_path)
    with pytest.raises(ValueError, match="repeats must be at least 1, not 0"):
        bench.detections_bench(3_000, workdir=tmp_path, repeats=0)


@pytest.mark.timeout(600)
def test_detections_bench_reports_the_medians_of_alternating_builds(tmp_path):
    res = bench.detections_bench(1_000, workdir=tmp_path, repeats=3)
    assert len(res["builds_without_s"]) == len(res["builds_with_s"]) == 3
    assert res["build_without_s"] == sorted(res["builds_without_s"])[1]
    assert res["build_with_s"] == sorted(res["builds_with_s"])[1]
    assert res["added_s"] == pytest.approx(res["build_with_s"] - res["build_without_s"])
    assert "(medians of 3 pairs; without " in res["summary"]
    # every build ran the project: the layer's nodes come from a build with it
    assert "model.s3logs.detect_weak_access" in res["nodes"]


def test_the_detection_floor_is_set_against_the_large_builds_budget():
    small = {"lines": 10_000, "repeats": 3, "added_s": 2.0, "nodes": dict.fromkeys("abc", 0.1)}
    large = {"lines": 1_000_000, "build_without_s": 15.0, "target_fraction": 0.2}
    text = bench.describe_detection_floor(small, large)
    assert text.startswith(
        "Detections, fixed cost: with 10,000 lines the layer adds 2.0 s (medians of 3 pairs)"
    )
    assert "its 3 dbt nodes" in text
    assert "13.3% of the 1,000,000-line build without it, whose +20% is 3.0 s" in text
    assert text.endswith("1.0 s are left for the layer's work on the lines")
    assert bench.describe_detection_floor({**small, "added_s": 4.0}, large).endswith(
        "0.0 s are left for the layer's work on the lines"
    )


def test_loader_bench_counts_add_up(tmp_path):
    from bootstrap import bench_loader

    res = bench_loader.loader_bench(
        objects=40, latency_ms=5, readers=4, days=30, backfill_lines=2_000, workdir=str(tmp_path)
    )
    backfill = res.backfill
    # the same objects from moto's server and from the minimal S3: the same counts
    for first, later in ((res.s3_first, res.s3_later), (res.minimal_first, res.minimal_later)):
        assert (first.objects, first.full_listing, first.list_requests) == (40, True, 1)
        assert first.lines > 40 * 9 and first.peak_rss_mb > 0 and first.server_cpu_seconds > 0
        # one new object per source; one LIST request per source
        assert (later.objects, later.full_listing, later.list_requests) == (4, False, 4)
    assert res.minimal_first.lines == res.s3_first.lines
    assert (backfill.lines, backfill.objects) == (2_000, res.backfill_objects)
    text = bench_loader.describe_loader(res)
    assert "LIST requests" in text and "peak RSS" in text and "incremental listing" in text
    assert "moto's server on loopback" in text and "a minimal S3 on loopback" in text
    assert list(tmp_path.iterdir()) == []  # the work folder is removed


def test_the_minimal_s3_lists_and_serves_as_the_loader_needs(fake_aws):
    # what bootstrap/bench_s3_server.py answers, through boto3: pages, StartAfter, If-Match
    import boto3
    from botocore.exceptions import ClientError

    from bootstrap import bench_s3_server

    server = bench_s3_server.serve()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
        s3.create_bucket(Bucket="bench")
        assert s3.head_bucket(Bucket="bench")["BucketRegion"] == "us-east-1"
        keys = [f"a/{i:04d}" for i in range(2_500)] + ["b/0", "a b/ü+1"]
        for key in keys:
            s3.put_object(Bucket="bench", Key=key, Body=key.encode())
        pages = s3.get_paginator("list_objects_v2")
        listed = [
            [o["Key"] for o in page.get("Contents", [])]
            for page in pages.paginate(Bucket="bench", Prefix="a/")
        ]
        assert [len(p) for p in listed] == [1000, 1000, 500]
        assert [k for page in listed for k in page] == sorted(k for k in keys if k[:2] == "a/")
        after = pages.paginate(Bucket="bench", Prefix="a/", StartAfter="a/2497")
        assert [o["Key"] for p in after for o in p["Contents"]] == ["a/2498", "a/2499"]
        before = pages.paginate(Bucket="bench", Prefix="b/", StartAfter="a/9")
        assert [o["Key"] for p in before for o in p["Contents"]] == ["b/0"]
        got = s3.get_object(Bucket="bench", Key="a b/ü+1")
        assert got["Body"].read() == "a b/ü+1".encode()
        s3.get_object(Bucket="bench", Key="a b/ü+1", IfMatch=got["ETag"])
        for missing, code in (({"IfMatch": '"0"'}, "PreconditionFailed"), ({}, "NoSuchKey")):
            key = "a b/ü+1" if missing else "a/9999"
            with pytest.raises(ClientError) as error:
                s3.get_object(Bucket="bench", Key=key, **missing)
            status = error.value.response["ResponseMetadata"]["HTTPStatusCode"]
            assert status == {"PreconditionFailed": 412, "NoSuchKey": 404}[code]
    finally:
        server.shutdown()
        server.server_close()
