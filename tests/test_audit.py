import threading

from posgraph.audit import AuditLog


def test_records_are_appended_as_json_lines(tmp_path):
    log = AuditLog(tmp_path / "a" / "audit.jsonl")
    log.record("alice", "sparql-update", update="INSERT DATA {}")
    log.record("bob", "gsp-put", graph="http://g", triples=3)
    records = log.read()
    assert [(r["actor"], r["action"]) for r in records] == [("alice", "sparql-update"), ("bob", "gsp-put")]
    assert records[1]["triples"] == 3 and records[0]["time"].endswith("+00:00")


def test_concurrent_writers_never_interleave_lines(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl")
    threads = [
        threading.Thread(target=lambda i=i: [log.record(f"w{i}", "x", n=n, pad="p" * 500) for n in range(50)])
        for i in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(log.read()) == 200


def test_an_attempt_is_recorded_before_the_write_and_its_outcome_after(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl")
    with log.attempt("rita", "batch-accept", batch="b1"):
        before = log.read()  # what a crash at this point would leave
    assert [(r["action"], r.get("batch"), r["outcome"]) for r in before] == [("batch-accept", "b1", "pending")]
    after = log.read()
    assert len(after) == 2 and after[1]["outcome"] == "done" and after[1]["entry"] == before[0]["entry"]
    assert after[1]["actor"] == "rita" and "batch" not in after[1]  # one line per batch names it: the attempt


def test_a_failed_attempt_says_so_and_the_error_goes_on(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl")
    try:
        with log.attempt("rita", "batch-accept", batch="b2"):
            raise OSError("disk full")
    except OSError:
        pass
    else:
        raise AssertionError("the error was swallowed")
    first, second = log.read()
    assert first["outcome"] == "pending" and second["outcome"] == "failed" and second["error"] == "OSError"
    assert second["entry"] == first["entry"]
