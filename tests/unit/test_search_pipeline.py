"""The pipeline body builder (stacks/search_pipeline.py) against the committed Data Prepper schema.

No Data Prepper validator runs offline: the schema is the subset Folio uses, derived from Data
Prepper's configuration classes (cited in its $comments). Each negative test shows one rule of
the schema can fail.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import jsonschema
import pytest

from folio import keys, search_index
from stacks import search_pipeline as sp

ROLE = "arn:aws:iam::123456789012:role/folio-dev-pipeline"


def spec(**changes: Any) -> sp.PipelineSpec:
    values: dict[str, Any] = {
        "region": "eu-west-1",
        "role_arn": ROLE,
        "table_arn": "arn:aws:dynamodb:eu-west-1:123456789012:table/folio-dev-Documents",
        "export": sp.ExportLocation(
            bucket_name="folio-dev-search-export",
            prefix="export/",
            kms_key_arn="arn:aws:kms:eu-west-1:123456789012:key/0a4bc22f-bb96-4ad3-80ca-63b12b3ec147",
        ),
        "domain_endpoint": "vpc-folio-dev-abc.eu-west-1.es.amazonaws.com",
        "dead_letters": sp.DeadLetters(bucket_name="folio-dev-search-export", prefix="dlq/"),
    }
    values.update(changes)
    return sp.PipelineSpec(**values)


def errors(body: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(sp.schema())
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(body)]


def parsed(body: dict[str, Any]) -> dict[str, Any]:
    """What OpenSearch Ingestion reads: the serialized string, parsed again."""
    result: dict[str, Any] = json.loads(sp.serialize(body))
    return result


def sink(body: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = body[sp.SUB_PIPELINE]["sink"][0]["opensearch"]
    return result


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(sp.schema())


def test_the_body_matches_the_schema_after_one_round_of_serialization() -> None:
    assert errors(parsed(sp.pipeline_body(spec()))) == []


def test_the_body_is_one_line_and_keeps_data_preppers_expressions_literally() -> None:
    text = sp.serialize(sp.pipeline_body(spec()))

    assert "\n" not in text
    for expression in ('${getMetadata("primary_key")}', '${getMetadata("opensearch_action")}'):
        assert json.dumps(expression) in text
    written = sink(parsed(sp.pipeline_body(spec())))
    assert written["document_id"] == '${getMetadata("primary_key")}'
    assert written["action"] == '${getMetadata("opensearch_action")}'
    assert (written["document_version"], written["document_version_type"]) == (
        '${getMetadata("document_version")}',
        "external",
    )


def test_only_document_items_reach_the_documents_index() -> None:
    body = parsed(sp.pipeline_body(spec()))
    pipeline = body[sp.SUB_PIPELINE]

    # Dropped while the item still has its SK, before the fields are narrowed to the mapping's.
    assert pipeline["processor"][0] == {"drop_events": {"drop_when": 'not startsWith(/SK, "DOC#")'}}
    assert keys.SORT_KEY == "SK" and keys.document_sort_key("x").startswith("DOC#")
    assert "route" not in pipeline
    assert sink(body)["index"] == "documents"


# Data Prepper's grammar (data-prepper-expression/src/main/antlr/DataPrepperExpression.g4): a
# function's arguments are JSON pointers or string literals only (fragment FunctionArg); a
# string holds no unescaped `"`, `\` or `$`.
_JSON_POINTER = r"/[A-Za-z0-9_]+(?:/[A-Za-z0-9_]+)*"
_STRING = r'"(?:[^"\\$]|\\[btnfr"\'\\$])*"'
_FUNCTION_CALL = re.compile(r"([A-Za-z0-9_]+)\(([^()]*)\)")


def grammar_problems(condition: str) -> list[str]:
    """Function calls in a condition whose arguments the grammar refuses (nested calls included)."""
    problems = []
    if condition.count("(") != len(_FUNCTION_CALL.findall(condition)):
        problems.append(f"a nested call or stray parenthesis: {condition}")
    for name, arguments in _FUNCTION_CALL.findall(condition):
        for argument in (a.strip() for a in arguments.split(",")):
            if not re.fullmatch(f"{_JSON_POINTER}|{_STRING}", argument):
                problems.append(f"{name}: {argument}")
    return problems


def conditions(body: dict[str, Any]) -> list[str]:
    """Every Data Prepper condition in a body: route conditions and processors' *_when settings."""
    found = []
    for pipeline in (v for k, v in body.items() if k != "version"):
        found += [condition for route in pipeline.get("route", []) for condition in route.values()]
        for processor in pipeline.get("processor", []):
            for settings in processor.values():
                found += [value for key, value in settings.items() if key.endswith("_when")]
    return found


def test_every_condition_of_the_body_parses_in_data_preppers_grammar() -> None:
    found = conditions(parsed(sp.pipeline_body(spec())))

    assert found
    assert [problem for condition in found for problem in grammar_problems(condition)] == []


@pytest.mark.parametrize(
    "condition",
    ['startsWith(getMetadata("sort_key"), "DOC#")', 'startsWith(SK, "DOC#")', 'startsWith(/SK, "${x}")'],
)
def test_the_grammar_check_refuses_what_data_prepper_would(condition: str) -> None:
    assert grammar_problems(condition) != []


def test_the_index_template_is_the_runtimes_data_file_with_a_strict_mapping() -> None:
    template = json.loads(sink(parsed(sp.pipeline_body(spec())))["template_content"])

    assert template == json.loads(search_index.TEMPLATE_FILE.read_text())
    assert template["template"]["mappings"]["dynamic"] == "strict"


def test_only_the_fields_the_strict_mapping_knows_reach_the_sink() -> None:
    pipeline = parsed(sp.pipeline_body(spec()))[sp.SUB_PIPELINE]

    assert pipeline["processor"][1:] == [{"select_entries": {"include_keys": list(search_index.indexed_fields())}}]
    mapped = json.loads(sink(parsed(sp.pipeline_body(spec())))["template_content"])["template"]["mappings"]
    assert set(search_index.indexed_fields()) == set(mapped["properties"])


def test_the_sink_routes_documents_by_the_rules_the_search_tests_replay() -> None:
    settings = sink(parsed(sp.pipeline_body(spec())))

    assert {k: settings[k] for k in search_index.sink_settings()} == search_index.sink_settings()


@pytest.mark.parametrize(
    "awkward",
    ['say "hi"', "${not_a_token}", "back\\slash", "new\nline", 'startsWith(getMetadata("sort_key"), "DOC#")'],
)
def test_values_with_quotes_dollar_braces_and_backslashes_survive_serialization(awkward: str) -> None:
    # Given a value no real ARN has, placed where a free string is allowed
    body = sp.pipeline_body(
        spec(export=sp.ExportLocation("folio-dev-search-export", awkward, "arn:aws:kms:eu-west-1:123456789012:key/k"))
    )

    # When it is serialized once and read back
    back = parsed(body)

    # Then it is the same string, and the body is still valid
    assert back[sp.SUB_PIPELINE]["source"]["dynamodb"]["tables"][0]["export"]["s3_prefix"] == awkward
    assert errors(back) == []


def broken(edit: Any) -> list[str]:
    body = copy.deepcopy(parsed(sp.pipeline_body(spec())))
    edit(body)
    return errors(body)


def test_schema_refuses_an_unknown_key() -> None:
    assert broken(lambda b: sink(b).__setitem__("document_id_feild", "x"))
    assert broken(lambda b: b[sp.SUB_PIPELINE]["source"]["dynamodb"].__setitem__("table", []))
    assert broken(lambda b: b.__setitem__("other-pipeline", {"source": {}, "sink": []}))


def test_schema_refuses_a_missing_sts_role_arn() -> None:
    assert broken(lambda b: b[sp.SUB_PIPELINE]["source"]["dynamodb"]["aws"].pop("sts_role_arn"))
    assert broken(lambda b: sink(b)["aws"].pop("sts_role_arn"))
    assert broken(lambda b: sink(b)["dlq"]["s3"].pop("sts_role_arn"))


def test_schema_refuses_wrong_types() -> None:
    assert broken(lambda b: b[sp.SUB_PIPELINE]["source"]["dynamodb"].__setitem__("acknowledgments", "yes"))
    assert broken(lambda b: sink(b).__setitem__("hosts", "https://one-host"))
    assert broken(lambda b: b.__setitem__("version", 2))


def test_schema_refuses_a_pipeline_without_dlq_export_key_or_versioning() -> None:
    assert broken(lambda b: sink(b).pop("dlq"))
    assert broken(lambda b: b[sp.SUB_PIPELINE]["source"]["dynamodb"]["tables"][0]["export"].pop("s3_sse_kms_key_id"))
    assert broken(lambda b: sink(b).__setitem__("document_version_type", "internal_gte"))
    assert broken(lambda b: sink(b).__setitem__("hosts", ["http://plain"]))
    assert broken(lambda b: b[sp.SUB_PIPELINE]["source"]["dynamodb"]["tables"].append({"table_arn": "x"}))
