"""The console's API and pages without a broker: sign-in, sessions, CSRF, throttling, roles,
what a unit may see (403 otherwise), the lists and their filters, the audited contact, and every
action the hub would refuse, answered with the hub's own reason before anything is sent (the
sender of these consoles fails the test if called)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from openapi_spec_validator import validate
from pgtest import postgres_server, postgres_url  # noqa: F401
from sqlalchemy import insert, select

from hubtest import TEST_API_TOKEN
from petition_hub.console.auth import MAX_FAILURES, Principal, disable_user
from petition_hub.console.listing import ListQuery, list_petitions, matching, page_ids
from petition_hub.console.models import AuditEntry, Event, Petition, PetitionUnit
from petition_hub.console.serve import refresh_statistics
from petition_hub.console.store import transaction
from webconsole import (
    NOW,
    PASSWORD,
    ConsoleUnderTest,
    add_petition,
    csrf_of,
    make_console,
    sign_in,
    signed_in,
)

BEARER = {"Authorization": f"Bearer {TEST_API_TOKEN}"}


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> str | None:
    """The read model's database: an SQLite file (None), and PostgreSQL where it is available
    (a throwaway cluster, or HUB_TEST_POSTGRES_URL; required when HUB_REQUIRE_TOOLS=1)."""
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def under(tmp_path: Path, database: str | None) -> ConsoleUnderTest:
    c = make_console(tmp_path, database=database)
    add_petition(c.console, "PH-TAX-1", lead="dept.TAX", co=["dept.HUD"])
    add_petition(c.console, "PH-TAX-2", state="in_progress", lead="dept.TAX", overdue=True)
    add_petition(c.console, "PH-HUD-1", lead="dept.HUD", county="410403")
    add_petition(c.console, "PH-TRI-1", state="triage", lead=None, suggested_units=["dept.TAX"])
    return c


def test_health_is_open_and_everything_else_asks_who(under: ConsoleUnderTest) -> None:
    client = under.client()
    assert client.get("/health").json() == {"status": "ok"}
    for path in ("/api/petitions", "/api/me", "/api/triage", "/metrics"):
        answer = client.get(path)
        assert answer.status_code == 401, (path, answer.status_code)
        assert answer.headers["www-authenticate"] == "Bearer"
    page = client.get("/office")
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/office"
    assert client.get("/api/petitions", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_signing_in_needs_the_forms_csrf_token_and_the_right_password(
    under: ConsoleUnderTest,
) -> None:
    client = under.client()
    token = csrf_of(client.get("/login").text)
    no_csrf = client.post("/login", data={"username": "office1", "password": PASSWORD})
    assert no_csrf.status_code == 403, no_csrf.text
    wrong = client.post(
        "/login", data={"username": "office1", "password": "wrong-one", "csrf_token": token}
    )
    assert wrong.status_code == 401 and "用户名或密码不正确" in wrong.text
    right = client.post(
        "/login", data={"username": "office1", "password": PASSWORD, "csrf_token": token}
    )
    assert right.status_code == 303 and right.headers["location"] == "/office"
    # a new session on signing in: the anonymous session's token is no longer the one
    assert client.get("/api/me").json()["csrf_token"] != token


def test_sign_in_is_throttled_after_repeated_failures(under: ConsoleUnderTest) -> None:
    client = under.client()
    token = csrf_of(client.get("/login").text)
    for _ in range(MAX_FAILURES):
        bad = client.post(
            "/login", data={"username": "tax1", "password": "guess-123", "csrf_token": token}
        )
        assert bad.status_code == 401
    # now even the right password is refused, for that username only
    right = client.post(
        "/login", data={"username": "tax1", "password": PASSWORD, "csrf_token": token}
    )
    assert right.status_code == 429 and "15 分钟" in right.text, right.status_code
    other = client.post(
        "/login", data={"username": "hud1", "password": PASSWORD, "csrf_token": token}
    )
    assert other.status_code == 303
    # once the failures leave the window, the account signs in again
    under.clock[0] = NOW + timedelta(minutes=16)
    fresh = under.client()
    assert sign_in(fresh, "tax1")


def test_a_unit_sees_its_own_petitions_only(under: ConsoleUnderTest) -> None:
    tax, _ = signed_in(under, "tax1")
    lead = tax.get("/api/petitions", params={"view": "all", "role": "lead"}).json()
    assert [p["petition_id"] for p in lead["petitions"]] == ["PH-TAX-1", "PH-TAX-2"]
    hud, _ = signed_in(under, "hud1")
    co = hud.get("/api/petitions", params={"view": "all", "role": "co"}).json()
    assert [p["petition_id"] for p in co["petitions"]] == ["PH-TAX-1"]
    everything = hud.get("/api/petitions", params={"view": "all"}).json()
    assert {p["petition_id"] for p in everything["petitions"]} == {"PH-TAX-1", "PH-HUD-1"}
    # another unit's petition: 403 on the API and on the page, and its contact too
    assert tax.get("/api/petitions/PH-HUD-1").status_code == 403
    page = tax.get("/petitions/PH-HUD-1")
    assert page.status_code == 403 and "无权访问" in page.text
    assert tax.get("/api/petitions/PH-HUD-1/contact").status_code == 403
    assert hud.get("/api/petitions/PH-TAX-1").status_code == 200  # co-handles it
    assert tax.get("/api/petitions/PH-NONE").status_code == 404
    # a clerk's pages are the unit's: the office's lists are not
    assert tax.get("/office").status_code == 403
    assert tax.get("/api/triage").status_code == 403


def test_the_offices_lists_filter_and_sort(under: ConsoleUnderTest) -> None:
    add_petition(
        under.console,
        "PH-LATE",
        lead="dept.TAX",
        received_at=NOW - timedelta(days=3),
        supervision="listed_supervision",
        overdue=True,
        state="in_progress",
        channel="MINIPROGRAM",
    )
    office, _ = signed_in(under, "office1")

    def ids(**params: str) -> list[str]:
        answer = office.get("/api/petitions", params=params)
        assert answer.status_code == 200, answer.text
        return [p["petition_id"] for p in answer.json()["petitions"]]

    assert ids(view="open") == ["PH-LATE", "PH-HUD-1", "PH-TAX-1", "PH-TAX-2"]
    assert ids(view="open", sort="-deadline")[0] != "PH-LATE"
    assert ids(view="overdue") == ["PH-LATE", "PH-TAX-2"]
    assert ids(view="listed") == ids(view="supervision") == ["PH-LATE"]
    assert ids(view="triage") == ["PH-TRI-1"]
    assert ids(view="all", unit="dept.HUD") == ["PH-HUD-1"]
    assert ids(view="all", unit="dept.HUD", role="co") == ["PH-TAX-1"]
    assert ids(view="all", county="410403") == ["PH-HUD-1"]
    assert ids(view="all", channel="MINIPROGRAM") == ["PH-LATE"]
    start = (NOW - timedelta(days=4)).isoformat()
    end = (NOW - timedelta(days=2)).isoformat()
    assert ids(view="all", **{"from": start, "to": end}) == ["PH-LATE"]
    assert office.get("/api/petitions", params={"view": "nonsense"}).status_code == 422
    board = office.get("/api/board").json()
    assert [p["petition_id"] for p in board["petitions"]] == ["PH-LATE"]
    past = office.get("/api/board", params={"offset": 1}).json()
    assert (past["total"], past["petitions"]) == (1, []), past
    assert office.get("/api/board", params={"limit": 501}).status_code == 422
    page = office.get("/office", params={"view": "overdue", "sort": "deadline"})
    assert page.status_code == 200 and "PH-LATE" in page.text and "PH-HUD-1" not in page.text


def test_an_api_token_reads_the_city_and_acts_on_nothing(under: ConsoleUnderTest) -> None:
    client = under.client()
    assert client.get("/api/petitions", headers=BEARER).json()["total"] == 3
    assert client.get("/api/petitions/PH-HUD-1", headers=BEARER).status_code == 200
    assert client.get("/api/petitions/PH-HUD-1/contact", headers=BEARER).status_code == 403
    act = client.post(
        "/api/petitions/PH-TAX-1/actions", json={"kind": "SIGNED_FOR"}, headers=BEARER
    )
    assert act.status_code == 403
    metrics = client.get("/metrics", headers=BEARER)
    assert metrics.status_code == 200
    assert 'petition_hub_console_requests_total{method="GET",route="/api/petitions"' in (
        metrics.text
    ), metrics.text[:2000]
    assert "PH-HUD-1" not in metrics.text  # routes, never ids
    assert "petition_hub_console_request_duration_seconds_bucket" in metrics.text


def _act(
    under: ConsoleUnderTest, who: str, pid: str, **body: object
) -> tuple[int, dict[str, object]]:
    client, csrf = signed_in(under, who)
    answer = client.post(f"/api/petitions/{pid}/actions", json=body, headers={"X-CSRF-Token": csrf})
    return answer.status_code, answer.json()


def test_actions_the_hub_would_refuse_get_its_reason_and_nothing_is_sent(
    under: ConsoleUnderTest,
) -> None:
    # wrong state: not signed for yet
    assert _act(under, "tax1", "PH-TAX-1", kind="IN_PROGRESS")[1]["reason"] == "not_signed_for"
    status, body = _act(
        under, "tax1", "PH-TAX-1", kind="REPLIED", reply_kind="RESOLVED", reply_text="已解决"
    )
    assert (status, body["reason"]) == (409, "reply_before_sign_for"), body
    status, body = _act(under, "tax1", "PH-TAX-2", kind="SIGNED_FOR")
    assert (status, body["reason"]) == (409, "wrong_state"), body
    assert "does not fit state in_progress" in str(body["detail"])
    assert body["text"] == "诉求当前的状态不允许这样做"
    # wrong unit: a co-handler may only give an opinion; another unit may not even look
    status, body = _act(under, "hud1", "PH-TAX-1", kind="SIGNED_FOR")
    assert (status, body["reason"]) == (409, "not_the_lead"), body
    status, body = _act(under, "tax1", "PH-TAX-1", kind="OPINION", note="建议")
    assert (status, body["reason"]) == (409, "opinion_from_lead"), body
    assert _act(under, "county1", "PH-TAX-1", kind="SIGNED_FOR")[0] == 403
    # the return window (the sign-for window) has passed
    add_petition(under.console, "PH-OLD", routed_at=NOW - timedelta(days=30))
    status, body = _act(under, "tax1", "PH-OLD", kind="RETURNED", note="不属于本单位职责")
    assert (status, body["reason"]) == (409, "return_window_passed"), body
    # an extension longer than the policy allows, and a second request
    add_petition(under.console, "PH-EXT", state="in_progress")
    status, body = _act(under, "tax1", "PH-EXT", kind="EXTENSION_REQUESTED", note="需会商", days=90)
    assert (status, body["reason"]) == (409, "extension_too_long"), body
    add_petition(under.console, "PH-EXT2", state="in_progress", extension=(5, "需会商"))
    status, body = _act(under, "tax1", "PH-EXT2", kind="EXTENSION_REQUESTED", note="再延", days=3)
    assert (status, body["reason"]) == (409, "extension_already_requested"), body
    # a form that is not a record: 422
    status, body = _act(under, "tax1", "PH-TAX-1", kind="MATERIAL_REQUESTED", note="  ")
    assert (status, body["reason"]) == (422, "invalid"), body
    # an unknown kind is refused by the API's schema
    assert _act(under, "tax1", "PH-TAX-1", kind="CLOSED")[0] == 422


def test_office_decisions_the_hub_would_refuse(under: ConsoleUnderTest) -> None:
    add_petition(under.console, "PH-EXT3", state="in_progress")
    office, csrf = signed_in(under, "office1")

    def decide(pid: str, **body: object) -> tuple[int, dict[str, object]]:
        answer = office.post(
            f"/api/petitions/{pid}/decisions", json=body, headers={"X-CSRF-Token": csrf}
        )
        return answer.status_code, answer.json()

    status, body = decide("PH-TAX-1", kind="TRIAGE_ROUTE", lead="dept.TAX")
    assert (status, body["reason"]) == (409, "not_in_triage"), body
    status, body = decide("PH-TRI-1", kind="TRIAGE_ROUTE", lead="dept.NOSUCH")
    assert (status, body["reason"]) == (409, "unknown_unit"), body
    status, body = decide("PH-EXT3", kind="EXTENSION_APPROVED", days=5)
    assert (status, body["reason"]) == (409, "no_extension_pending"), body
    status, body = decide("PH-EXT3", kind="EXTENSION_REFUSED", note="")
    assert (status, body["reason"]) == (422, "invalid"), body
    # a unit may not decide
    tax, tax_csrf = signed_in(under, "tax1")
    answer = tax.post(
        "/api/petitions/PH-TRI-1/decisions",
        json={"kind": "TRIAGE_ROUTE", "lead": "dept.TAX"},
        headers={"X-CSRF-Token": tax_csrf},
    )
    assert answer.status_code == 403


def test_a_change_without_the_csrf_token_is_refused(under: ConsoleUnderTest) -> None:
    tax, csrf = signed_in(under, "tax1")
    no_header = tax.post("/api/petitions/PH-TAX-1/actions", json={"kind": "SIGNED_FOR"})
    assert no_header.status_code == 403 and "CSRF" in no_header.json()["detail"]
    wrong = tax.post(
        "/api/petitions/PH-TAX-1/actions",
        json={"kind": "SIGNED_FOR"},
        headers={"X-CSRF-Token": "0" * 64},
    )
    assert wrong.status_code == 403
    form = tax.post("/petitions/PH-TAX-1/action", data={"kind": "SIGNED_FOR"})
    assert form.status_code == 403 and "CSRF" in form.text
    # another session's token is not this session's
    _, other = signed_in(under, "tax1")
    assert other != csrf
    stolen = tax.post(
        "/petitions/PH-TAX-1/action", data={"kind": "SIGNED_FOR", "csrf_token": other}
    )
    assert stolen.status_code == 403
    office, _ = signed_in(under, "office1")
    triage = office.post("/office/triage/PH-TRI-1", data={"lead": "dept.TAX"})
    assert triage.status_code == 403


def test_a_refused_form_shows_the_hubs_reason_on_the_page(under: ConsoleUnderTest) -> None:
    tax, _ = signed_in(under, "tax1")
    page = tax.get("/petitions/PH-TAX-2")
    answer = tax.post(
        "/petitions/PH-TAX-2/action", data={"kind": "SIGNED_FOR", "csrf_token": csrf_of(page.text)}
    )
    assert answer.status_code == 409
    assert "诉求当前的状态不允许这样做" in answer.text and "wrong_state" in answer.text


def test_the_contact_is_opened_for_the_office_and_each_view_recorded(
    tmp_path: Path, database: str | None
) -> None:
    under = make_console(tmp_path, database=database)
    contact = {"contactName": "张三", "contactPhone": "13800001111"}
    add_petition(under.console, "PH-C1", contact=contact)
    add_petition(under.console, "PH-C2", contact=contact, identity_withheld=True)
    office, csrf = signed_in(under, "office1")
    detail = office.get("/api/petitions/PH-C1").json()
    assert detail["has_contact"] is True
    assert "13800001111" not in str(detail)  # the detail never carries it
    opened = office.get("/api/petitions/PH-C1/contact").json()
    assert opened["contact"] == contact
    page = office.post("/petitions/PH-C1/contact", data={"csrf_token": csrf})
    assert page.status_code == 200 and "13800001111" in page.text
    tax, _ = signed_in(under, "tax1")
    assert tax.get("/api/petitions/PH-C1/contact").json()["contact"] == contact
    withheld = tax.get("/api/petitions/PH-C2/contact")
    assert withheld.status_code == 403, withheld.text
    with under.console.read() as db:
        log = [(a.username, a.petition_id, a.action) for a in db.scalars(select(AuditEntry))]
    assert log == [
        ("office1", "PH-C1", "view_personal_data"),
        ("office1", "PH-C1", "view_personal_data"),
        ("tax1", "PH-C1", "view_personal_data"),
    ], log


def test_every_page_renders_for_its_role(under: ConsoleUnderTest) -> None:
    add_petition(
        under.console,
        "PH-REF",
        state="signed_for",
        extension=(5, "需要现场核查"),
        refusal=("SIGNED_FOR", "wrong_state", "SIGNED_FOR does not fit state signed_for"),
    )
    with transaction(under.console.db) as db:
        for event_id, kind, author in (
            ("e1", "status.SIGNED_FOR", "tax1"),
            ("e2", "sla.resolve.warning", None),
        ):
            db.add(
                Event(
                    event_id=event_id,
                    petition_id="PH-REF",
                    source="dept.TAX.status",
                    at=NOW,
                    kind=kind,
                    unit="dept.TAX",
                    author=author,
                )
            )
    office, _ = signed_in(under, "office1")
    history = office.get("/petitions/PH-REF").text
    assert 'title="status.SIGNED_FOR">签收<' in history and ">tax1<" in history
    assert 'title="sla.resolve.warning">办结时限预警<' in history
    for path, expected in (
        ("/office", "全市诉求"),
        ("/office?view=triage", "PH-TRI-1"),
        ("/office/triage", "分办"),
        ("/office/extensions", "需要现场核查"),
        ("/office/refusals", "wrong_state"),
        ("/petitions/PH-REF", "被中枢拒绝的事件"),
        ("/petitions/PH-TRI-1", "建议单位"),
    ):
        page = office.get(path)
        assert page.status_code == 200 and expected in page.text, (path, page.status_code)
    assert "SIGNED_FOR does not fit state signed_for" in office.get("/petitions/PH-REF").text
    tax, _ = signed_in(under, "tax1")
    unit_page = tax.get("/unit")
    assert unit_page.status_code == 200 and "PH-TAX-1" in unit_page.text
    assert "签收时限" in unit_page.text and "2026-06-02 08:30" in unit_page.text  # routed + 1 day
    assert "PH-HUD-1" not in unit_page.text
    detail = tax.get("/petitions/PH-TAX-1").text
    for action in ("签收", "要求补充材料", "申请延期", "答复", "退回"):
        assert action in detail, action
    assert "协办意见" in signed_in(under, "hud1")[0].get("/petitions/PH-TAX-1").text
    leader, _ = signed_in(under, "leader1")
    board = leader.get("/leadership")
    assert board.status_code == 200 and "挂牌督办" in board.text
    assert 'href="/leadership/rates"' in board.text
    assert leader.get("/office/triage").status_code == 403
    assert leader.get("/").headers["location"] == "/leadership"


def test_a_disabled_account_is_out_at_once(under: ConsoleUnderTest) -> None:
    tax, _ = signed_in(under, "tax1")
    assert tax.get("/api/me").status_code == 200
    with transaction(under.console.db) as db:
        assert disable_user(db, "tax1")
    assert tax.get("/api/me").status_code == 401
    assert tax.get("/unit").status_code == 303


def test_signing_out_ends_the_session(under: ConsoleUnderTest) -> None:
    tax, csrf = signed_in(under, "tax1")
    assert tax.post("/logout", data={}).status_code == 403  # a form: CSRF too
    assert tax.post("/logout", data={"csrf_token": csrf}).status_code == 303
    assert tax.get("/api/me").status_code == 401


def test_the_openapi_document_lists_the_api(under: ConsoleUnderTest) -> None:
    client = under.client()
    assert client.get("/openapi.json").status_code == 401
    assert client.get("/docs").status_code == 303  # to the sign-in
    spec = client.get("/openapi.json", headers=BEARER).json()
    assert spec["openapi"].startswith("3."), spec["openapi"]
    validate(spec)  # a valid OpenAPI document, as docs/openapi.json of the workers is
    for path in (
        "/api/petitions",
        "/api/petitions/{petition_id}",
        "/api/petitions/{petition_id}/actions",
        "/api/petitions/{petition_id}/decisions",
        "/api/petitions/{petition_id}/contact",
        "/api/triage",
        "/api/extensions",
        "/api/refusals",
        "/api/board",
        "/api/report",
        "/health",
        "/metrics",
    ):
        assert path in spec["paths"], path
    office, _ = signed_in(under, "office1")
    docs = office.get("/docs")
    assert docs.status_code == 200 and "/openapi.json" in docs.text


def test_the_queues_units_and_refusals_answer_each_role(under: ConsoleUnderTest) -> None:
    add_petition(
        under.console,
        "PH-Q1",
        state="in_progress",
        extension=(3, "需要会商"),
        refusal=("REPLIED", "reply_before_sign_for", "sign for it first"),
    )
    add_petition(
        under.console,
        "PH-Q2",
        lead="dept.HUD",
        refusal=("SIGNED_FOR", "wrong_state", "SIGNED_FOR does not fit state signed_for"),
    )
    office, _ = signed_in(under, "office1")
    triage = office.get("/api/triage").json()["petitions"]
    assert [(p["petition_id"], p["suggested_units"]) for p in triage] == [
        ("PH-TRI-1", ["dept.TAX"])
    ]
    requests = office.get("/api/extensions").json()["requests"]
    assert [(r["petition_id"], r["days"], r["reason"]) for r in requests] == [
        ("PH-Q1", 3, "需要会商")
    ]
    refused = office.get("/api/refusals").json()["refusals"]
    assert {(r["petition_id"], r["reason"]) for r in refused} == {
        ("PH-Q1", "reply_before_sign_for"),
        ("PH-Q2", "wrong_state"),
    }
    units = office.get("/api/units").json()
    assert units["dept.TAX"] and units["county.410402"], units
    tax, _ = signed_in(under, "tax1")
    mine = tax.get("/api/refusals").json()["refusals"]
    assert [(r["petition_id"], r["unit"]) for r in mine] == [("PH-Q1", "dept.TAX")]
    assert tax.get("/api/extensions").status_code == 403
    assert tax.get("/api/board").status_code == 403
    ops, _ = signed_in(under, "ops1")
    assert ops.get("/api/triage").status_code == 200
    assert ops.get("/api/extensions").status_code == 403
    assert ops.get("/metrics").status_code == 200
    assert ops.get("/").headers["location"] == "/office/refusals"
    leader, _ = signed_in(under, "leader1")
    assert leader.get("/metrics").status_code == 403
    assert leader.get("/api/refusals").status_code == 403


def test_with_statistics_a_city_list_walks_the_deadline_index(tmp_path: Path) -> None:
    """The lists stay fast with many petitions (p95 under 100 ms with 100,000 here): SQLite,
    given its statistics (``console serve`` refreshes them), walks the deadline's index for
    the city's list and starts from the unit's rows for a clerk's, instead of sorting them all."""
    under = make_console(tmp_path)
    engine = under.console.db.kw["bind"]
    states = ["routed", "signed_for", "in_progress", "replied", "closed", "triage"]
    rows = [
        {
            "petition_id": f"PH-{i:06d}",
            "state": states[i % len(states)],
            "lead_unit": f"dept.U{i % 40}",
            "petition_type": f"T{i % 5}",
            "received_at": NOW - timedelta(minutes=i),
            "resolve_deadline": NOW + timedelta(minutes=(i * 7919) % 100_000),
            "overdue": i % 10 == 0,
        }
        for i in range(5000)
    ]
    units = [
        {"petition_id": r["petition_id"], "unit": r["lead_unit"], "role": "LEAD", "current": True}
        for r in rows
    ]
    with transaction(under.console.db) as db:
        db.execute(insert(Petition), rows)
        db.execute(insert(PetitionUnit), units)
    refresh_statistics(engine)

    def plan(principal: Principal, q: ListQuery) -> str:
        # how the page is chosen (its rows are then read by id, and those few sorted)
        sql = page_ids(matching(principal, q), q).compile(
            engine, compile_kwargs={"literal_binds": True}
        )
        with engine.connect() as conn:
            return " / ".join(r[-1] for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))

    office = plan(Principal("office1", "office"), ListQuery(view="open"))
    # (ties on a deadline are ordered by id: a sort of the ties only, "RIGHT PART OF ORDER BY")
    assert "ix_petitions_resolve_deadline" in office, office
    assert "TEMP B-TREE FOR ORDER BY" not in office, office
    clerk = plan(Principal("c", "unit", "dept.U5"), ListQuery(view="open", role="lead"))
    # the unit's ids, then their state and deadline, from indexes alone (no wide row read)
    assert "COVERING INDEX ix_petition_units_unit_role_current" in clerk, clerk
    assert "COVERING INDEX ix_petitions_listing" in clerk, clerk
    typed = plan(Principal("office1", "office"), ListQuery(view="done", petition_type="T1"))
    assert "COVERING INDEX ix_petitions_type_listing" in typed, typed
    with under.console.read() as db:
        total, page = list_petitions(db, Principal("office1", "office"), ListQuery(view="open"))
    deadlines = [p["resolve_deadline"] for p in page]
    expected = sum(r["state"] in ("routed", "signed_for", "in_progress") for r in rows)
    assert total == expected and deadlines == sorted(deadlines), (total, deadlines[:5])


def test_the_triage_queue_comes_a_page_at_a_time(under: ConsoleUnderTest) -> None:
    """The queue is paged (the page: 50 petitions, each content trimmed to its first 200
    characters; the API: ``limit``/``offset`` and ``total``), oldest first."""
    long_content = "厂房租金" * 100  # 400 characters
    for k in range(60):
        add_petition(
            under.console,
            f"PH-TRQ-{k:02}",
            state="triage",
            lead=None,
            received_at=NOW - timedelta(days=10, minutes=60 - k),  # before PH-TRI-1
            content=long_content,
        )
    office, _ = signed_in(under, "office1")
    first = office.get("/office/triage")
    assert first.status_code == 200, first.status_code
    shown = [f"PH-TRQ-{k:02}" for k in range(60) if f'data-petition="PH-TRQ-{k:02}"' in first.text]
    assert shown == [f"PH-TRQ-{k:02}" for k in range(50)], shown
    assert "（61 件）" in first.text and "下一页" in first.text
    assert long_content not in first.text and long_content[:200] + "…" in first.text
    second = office.get("/office/triage?page=2").text
    assert 'data-petition="PH-TRQ-50"' in second and 'data-petition="PH-TRI-1"' in second
    assert 'data-petition="PH-TRQ-49"' not in second and "上一页" in second
    api = office.get("/api/triage", params={"limit": 10, "offset": 55}).json()
    assert api["total"] == 61, api["total"]
    assert [p["petition_id"] for p in api["petitions"]] == [
        *(f"PH-TRQ-{k}" for k in range(55, 60)),
        "PH-TRI-1",
    ]
    assert api["petitions"][0]["content"] == long_content  # the API's rows are whole


def test_a_petitions_detail_has_its_own_pending_extension_requests(
    under: ConsoleUnderTest,
) -> None:
    add_petition(under.console, "PH-EXT-1", state="in_progress", extension=(3, "需要会商"))
    add_petition(under.console, "PH-EXT-2", state="in_progress", extension=(5, "需要现场核查"))
    office, _ = signed_in(under, "office1")
    for pid, expected in (("PH-EXT-1", [3]), ("PH-EXT-2", [5]), ("PH-TAX-1", [])):
        found = [e["days"] for e in office.get(f"/api/petitions/{pid}").json()["extensions"]]
        assert found == expected, (pid, found)
