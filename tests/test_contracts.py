"""The machine-readable contracts: ``docs/asyncapi.yaml`` (the topics, AsyncAPI 3) and
``docs/openapi.json`` (the worker's HTTP endpoints, OpenAPI 3.1) are current (regenerated and
compared), valid (the official AsyncAPI parser, ``@asyncapi/parser`` with its Avro schema parser,
installed by ``.ci/run`` under ``.ci/node``; ``openapi-spec-validator``), complete (every topic of
``topics.yaml``, every route of the worker), and a real worker serves its OpenAPI document and
answers each documented endpoint with a documented status.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastavro
import pytest
import yaml
from click.testing import CliRunner
from deploycheck import require_tool
from openapi_spec_validator import validate

from hubtest import TEST_PII_KEY, WorkerProcess, http_json
from petition_hub import schemas
from petition_hub.broker.embedded import EmbeddedBroker
from petition_hub.ops.cli import main
from petition_hub.ops.contracts import AVRO_FORMAT, asyncapi_yaml, versions_of
from petition_hub.ops.contracts_cli import openapi_json
from petition_hub.service import openapi, registry
from petition_hub.service.settings import Settings
from petition_hub.service.web import OPEN_PATHS
from petition_hub.service.worker import create_app
from petition_hub.topics import load_topics
from petition_hub.topics.names import DEFAULT_APP_ID, resolve

ROOT = Path(__file__).resolve().parent.parent
ASYNCAPI = ROOT / "docs" / "asyncapi.yaml"
OPENAPI = ROOT / "docs" / "openapi.json"
TOPICS = ROOT / "topics.yaml"
VALIDATOR = ROOT / ".ci" / "node" / "validate-asyncapi.mjs"
REGENERATE = "regenerate it: petition-hub contracts {} --output docs/{}"


def _canonical(schema: Any) -> str:
    return str(fastavro.schema.to_parsing_canonical_form(fastavro.parse_schema(schema)))


# --- AsyncAPI ---------------------------------------------------------------------------------


def test_asyncapi_document_is_current() -> None:
    assert ASYNCAPI.read_text(encoding="utf-8") == asyncapi_yaml(TOPICS), REGENERATE.format(
        "asyncapi", "asyncapi.yaml"
    )


def test_asyncapi_lists_every_topic_and_its_schemas() -> None:
    document = yaml.safe_load(ASYNCAPI.read_text(encoding="utf-8"))
    assert document["asyncapi"].startswith("3.")
    channels = document["channels"]
    by_address = {resolve(c["address"], DEFAULT_APP_ID): c for c in channels.values()}
    topics = load_topics(TOPICS, DEFAULT_APP_ID).topics
    assert sorted(by_address) == sorted(t.name for t in topics)
    assert len(channels) == len(topics)
    messages = document["components"]["messages"]
    for topic in topics:
        channel = by_address[topic.name]
        assert channel["bindings"]["kafka"]["partitions"] == topic.partitions
        refs = [m["$ref"].rsplit("/", 1)[1] for m in channel.get("messages", {}).values()]
        want = [name for record in topic.schemas for name in versions_of(record)]
        if not want:
            continue
        # the registry's record subjects (TopicRecordNameStrategy) list the same schemas, in order
        view = registry.SchemaView([topic])
        served_names = [
            name
            for record in topic.schemas
            for name in view.subject_versions(registry.record_subject(topic.name, record))
        ]
        assert want == served_names
        assert [messages[r]["name"] for r in refs] == want
        for ref, name in zip(refs, want, strict=True):
            payload = messages[ref]["payload"]
            assert payload["schemaFormat"] == AVRO_FORMAT
            assert messages[ref]["x-hub-schema-id"] == schemas.schema_id(name)
            # self-contained, and the very schema the registry serves for it
            served = json.loads(registry.schema_text(schemas.schema_id(name)))
            assert _canonical(payload["schema"]) == _canonical(served), name


def test_asyncapi_validates_with_the_official_parser() -> None:
    node = require_tool("node")
    if not (VALIDATOR.parent / "node_modules" / "@asyncapi" / "parser").is_dir():
        message = "@asyncapi/parser is not installed: npm ci --prefix .ci/node (.ci/run does)"
        if os.environ.get("HUB_REQUIRE_TOOLS"):
            pytest.fail(message)
        pytest.skip(message)
    done = subprocess.run(
        [node, str(VALIDATOR), str(ASYNCAPI)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # neither an error (0) nor a warning (1): hints (2, 3) only
    diagnostics = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    assert [d for d in diagnostics if d["severity"] <= 1] == []
    assert f"{len(load_topics(TOPICS).topics)} channels" in done.stderr


def test_the_parser_refuses_a_broken_document(tmp_path: Path) -> None:
    """The check can fail: a message whose Avro schema is not one is an error."""
    node = require_tool("node")
    if not (VALIDATOR.parent / "node_modules" / "@asyncapi" / "parser").is_dir():
        pytest.skip("@asyncapi/parser is not installed (see the test above)")
    document = yaml.safe_load(ASYNCAPI.read_text(encoding="utf-8"))
    first = next(iter(document["components"]["messages"].values()))
    first["payload"]["schema"] = {"type": "record", "name": "not.a.simple.name", "fields": 3}
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(document), encoding="utf-8")
    done = subprocess.run([node, str(VALIDATOR), str(broken)], capture_output=True, text=True)
    assert done.returncode == 1, done.stdout + done.stderr


def test_contracts_command_writes_the_documents(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "asyncapi.yaml"
    result = runner.invoke(main, ["contracts", "asyncapi", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8") == ASYNCAPI.read_text(encoding="utf-8")
    result = runner.invoke(main, ["contracts", "openapi"])
    assert result.exit_code == 0, result.output
    assert result.output == OPENAPI.read_text(encoding="utf-8")


# --- OpenAPI ----------------------------------------------------------------------------------


def test_openapi_document_is_current_and_valid() -> None:
    text = OPENAPI.read_text(encoding="utf-8")
    assert text == openapi_json(), REGENERATE.format("openapi", "openapi.json")
    document = json.loads(text)
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_openapi_lists_exactly_the_workers_routes() -> None:
    settings = Settings(broker="tansu://127.0.0.1:9", pii_key=TEST_PII_KEY)
    app = create_app(settings)  # only built: the hub's pages are registered, faust's come at start
    routes = {
        (r.method, r.resource.canonical)
        for r in app.web.web_app.router.routes()  # type: ignore[attr-defined]
        if r.method != "HEAD" and r.resource is not None
    }
    documented = {
        (method.upper(), path)
        for path, item in openapi.document()["paths"].items()
        for method in item
    }
    assert routes == documented
    for endpoint in openapi.ENDPOINTS:
        assert endpoint.open == (endpoint.path in OPEN_PATHS), endpoint.path
    assert len({(e.method, e.path) for e in openapi.ENDPOINTS}) == len(openapi.ENDPOINTS)


def _example(path: str) -> str:
    values = {
        "{petition_id}": "PH-NOT-HELD",
        "{unit}": "dept.TAX",
        "{schema_id}": str(schemas.schema_id(schemas.names()[0])),
        "{subject}": "hub.petitions-value",
        "{version}": "latest",
    }
    for name, value in values.items():
        path = path.replace(name, value)
    return path


def test_a_worker_serves_its_openapi_and_answers_as_documented(
    hub_topics: EmbeddedBroker, start_worker: Callable[..., WorkerProcess]
) -> None:
    worker = start_worker(hub_topics)
    status, served = http_json(worker.url + "/openapi.json")
    assert status == 200
    assert served == json.loads(OPENAPI.read_text(encoding="utf-8"))
    # a contract, like the registry's: an API client reads it before it holds a token
    assert http_json(worker.url + "/openapi.json", token=None) == (200, served)
    for path, item in served["paths"].items():
        if "get" not in item:
            continue
        documented = {int(s) for s in item["get"]["responses"]}
        status, _ = http_json(worker.url + _example(path))
        assert status in documented, f"GET {path}: {status}, documented {sorted(documented)}"
        if not item["get"]["security"]:  # an open endpoint answers without a token too
            assert http_json(worker.url + _example(path), token=None)[0] in documented
