import json
import os

import pytest

from posgraph.errors import BadInput, NotFound
from posgraph.tokens import ROLES, TokenStore, role_allows


def test_create_authenticate_and_revoke(tmp_path):
    store = TokenStore(tmp_path / "tokens.json")
    record, secret = store.create("alice", "curator")
    assert secret.startswith(f"pgt_{record.id}_") and len(secret) > 40
    assert store.authenticate(secret) == record
    assert store.authenticate(secret + "x") is None
    assert store.authenticate(f"pgt_{record.id}_wrong") is None
    assert store.authenticate("pgt_ffffffff_" + secret.split("_", 2)[2]) is None
    assert store.authenticate("garbage") is None
    revoked = store.revoke("alice")
    assert revoked.revoked is not None and store.authenticate(secret) is None
    with pytest.raises(NotFound):
        store.revoke("alice")


def test_tokens_are_stored_hashed_never_in_clear(tmp_path):
    path = tmp_path / "tokens.json"
    _, secret = TokenStore(path).create("bob", "admin")
    text = path.read_text()
    assert secret.split("_", 2)[2] not in text
    assert json.loads(text)["tokens"][0]["sha256"]
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"


def test_another_process_sees_new_and_revoked_tokens(tmp_path):
    writer, reader = TokenStore(tmp_path / "t.json"), TokenStore(tmp_path / "t.json")
    _, secret = writer.create("carol", "reviewer")
    assert reader.authenticate(secret) is not None
    writer.revoke("carol")
    assert reader.authenticate(secret) is None


def test_bad_roles_and_duplicate_names(tmp_path):
    store = TokenStore(tmp_path / "t.json")
    with pytest.raises(BadInput, match="unknown role"):
        store.create("x", "god")
    store.create("x", "reader")
    with pytest.raises(BadInput, match="exists"):
        store.create("x", "reader")
    assert [r.public()["name"] for r in store.list()] == ["x"]
    assert "sha256" not in store.list()[0].public()


def test_roles_are_ordered():
    assert ROLES == ("reader", "curator", "reviewer", "admin")
    assert role_allows("admin", "curator") and role_allows("curator", "curator")
    assert not role_allows("reader", "curator") and not role_allows("curator", "reviewer")
