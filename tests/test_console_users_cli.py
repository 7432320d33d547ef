"""``petition-hub console users add|disable|list``: accounts in the console's database, argon2
hashes (never the password), the role's unit checked, a disabled account unable to sign in."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import select

from hubtest import run_hub
from petition_hub.console.auth import LoginResult, authenticate
from petition_hub.console.models import User
from petition_hub.console.store import database_url, make_engine, session_factory, transaction
from petition_hub.service.settings import Settings


def test_users_add_disable_list(tmp_path: Path) -> None:
    env = {**os.environ, "HUB_DATA_DIR": str(tmp_path)}
    env.pop("HUB_BROKER", None)

    def hub(*args: str) -> tuple[int, str, str]:
        done = run_hub("console", "users", *args, env=env)
        return done.returncode, done.stdout, done.stderr

    assert (
        hub("add", "clerk", "--role", "unit", "--unit", "dept.TAX", "--password", "s3cret-pw")[0]
        == 0
    )
    code, _, err = hub("add", "clerk", "--role", "office", "--password", "s3cret-pw")
    assert code != 0 and "taken" in err, err
    code, _, err = hub("add", "nounit", "--role", "unit", "--password", "s3cret-pw")
    assert code != 0 and "needs its unit" in err, err
    code, _, err = hub("add", "short", "--role", "office", "--password", "short")
    assert code != 0 and "at least 8" in err, err
    assert hub("add", "boss", "--role", "leadership", "--password", "s3cret-pw")[0] == 0
    code, out, _ = hub("list", "--json")
    rows = json.loads(out)
    assert [(r["username"], r["role"], r["unit"], r["disabled"]) for r in rows] == [
        ("boss", "leadership", None, False),
        ("clerk", "unit", "dept.TAX", False),
    ]
    assert hub("disable", "clerk")[0] == 0
    assert hub("disable", "nobody")[0] != 0
    assert "yes" in hub("list")[1]
    settings = Settings(data_dir=tmp_path, pii_key=SecretStr("unused"))
    factory = session_factory(make_engine(database_url(settings)))
    with transaction(factory) as db:
        stored = db.scalars(select(User.password_hash)).all()
        assert all(h.startswith("$argon2") and "s3cret-pw" not in h for h in stored), stored
        assert authenticate(db, "clerk", "s3cret-pw")[0] is LoginResult.BAD  # disabled
        assert authenticate(db, "boss", "s3cret-pw")[0] is LoginResult.OK
