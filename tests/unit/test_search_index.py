"""The search index's facts: the template is the document's searchable part, only documents are
routed, and the id, action and version follow Data Prepper's DynamoDB source."""

from __future__ import annotations

import pytest

from folio import keys, search_index
from folio.domain import LISTING, SHARED_WITH


def test_the_template_maps_what_a_listing_shows_and_the_grantee_set_strictly() -> None:
    template = search_index.index_template()
    mappings = template["template"]["mappings"]

    assert template["index_patterns"] == [search_index.INDEX_NAME]
    assert mappings["dynamic"] == "strict"
    assert set(search_index.indexed_fields()) == {*LISTING, SHARED_WITH}


@pytest.mark.parametrize(
    ("field", "kind"),
    [("owner", "keyword"), ("docId", "keyword"), ("sharedWith", "keyword"), ("status", "keyword"),
     ("tags", "keyword"), ("name", "text"), ("updatedAt", "date"), ("size", "long"), ("version", "long")],
)  # fmt: skip
def test_filters_are_exact_and_only_the_name_is_analysed(field: str, kind: str) -> None:
    assert search_index.index_template()["template"]["mappings"]["properties"][field]["type"] == kind


def test_the_fields_the_search_reads_are_in_the_template() -> None:
    properties = search_index.index_template()["template"]["mappings"]["properties"]
    fields = set(properties) | {f"{name}.{sub}" for name, p in properties.items() for sub in p.get("fields", {})}
    named = {
        *search_index.FULL_TEXT_FIELDS,
        *search_index.HIGHLIGHTED_FIELDS,
        search_index.UPDATED_AT_FIELD,
        search_index.TIE_BREAKER_FIELD,
        search_index.OWNER_FIELD,
        search_index.GRANTEES_FIELD,
        search_index.STATUS_FIELD,
    }
    assert named <= fields


def test_the_name_is_also_split_into_words_by_a_built_in_analyzer() -> None:
    name = search_index.index_template()["template"]["mappings"]["properties"]["name"]

    assert name["fields"]["words"] == {"type": "text", "analyzer": "simple"}


@pytest.mark.parametrize(
    ("sort_key", "routed"),
    [
        (keys.document_sort_key("d1"), True),
        (keys.tag_link_sort_key("tax", "d1"), False),
        (keys.share_sort_key("d1", "u2"), False),
        (keys.quota_released_sort_key("d1"), False),
        (keys.profile_sort_key(), False),
        ("DOCUMENT", False),  # a prefix of the word is not the key prefix
    ],
)
def test_only_documents_are_routed_to_the_index(sort_key: str, routed: bool) -> None:
    assert search_index.is_document(sort_key) is routed


def test_the_pipelines_drop_condition_names_the_same_prefix_on_the_sort_key() -> None:
    assert search_index.not_a_document() == 'not startsWith(/SK, "DOC#")'


def test_the_id_is_data_preppers_primary_key() -> None:
    assert search_index.document_id("USER#u1", "DOC#d1") == "USER#u1|DOC#d1"


@pytest.mark.parametrize(
    ("event", "action"), [("INSERT", "index"), ("MODIFY", "index"), ("REMOVE", "delete"), (None, "index")]
)
def test_the_action_follows_the_stream_event(event: str | None, action: str) -> None:
    assert search_index.action_of(event) == action


def test_the_sink_writes_external_versions_from_the_metadata() -> None:
    assert search_index.sink_settings() == {
        "index": "documents",
        "document_id": '${getMetadata("primary_key")}',
        "action": '${getMetadata("opensearch_action")}',
        "document_version": '${getMetadata("document_version")}',
        "document_version_type": "external",
    }


def test_only_indexed_fields_leave_the_item() -> None:
    item = {"PK": "USER#u", "SK": "DOC#d", "GSI1PK": "x", "expiresAt": 1, "docId": "d", "name": "n"}
    item["sharedWith"] = ["g"]

    assert search_index.searchable(item) == {"docId": "d", "name": "n", "sharedWith": ["g"]}


def test_the_index_has_a_replica_only_where_a_second_node_can_hold_it() -> None:
    # dev's domain is one node: a fixed replica would leave the cluster yellow for good.
    assert search_index.index_template()["template"]["settings"] == {"index": {"auto_expand_replicas": "0-1"}}
