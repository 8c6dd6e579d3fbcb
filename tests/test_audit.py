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
