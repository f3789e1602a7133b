"""The role-mapping logic (lambda/folio/search_role_mappings.py) against recorded security-plugin
responses (tests/support/security_api.py): idempotent on create, update and delete."""

from __future__ import annotations

import pytest

from folio import search_role_mappings as rm
from tests.support.security_api import API, RecordedSecurityApi

PIPELINE = "arn:aws:iam::111111111111:role/FolioDev-Search-IngestionRole"
SEARCH = "arn:aws:iam::111111111111:role/FolioDev-Api-SearchRole"
SWEEP = "arn:aws:iam::111111111111:role/FolioDev-Search-SweepRole"


def roles() -> tuple[rm.IndexRole, ...]:
    return rm.documents_roles(pipeline_role_arn=PIPELINE, search_role_arns=[SEARCH], sweep_role_arn=SWEEP)


def test_the_sweep_reads_and_deletes_documents_and_nothing_else() -> None:
    *_, sweep = roles()

    assert (sweep.name, sweep.backend_roles, sweep.index_patterns) == (rm.SWEEP_ROLE, (SWEEP,), ("documents",))
    assert set(sweep.allowed_actions) == {
        "indices:data/read/search*",
        "indices:data/write/bulk*",
        "indices:data/write/delete",
    }
    assert sweep.cluster_permissions == ("indices:data/write/bulk",)  # a _bulk request is a cluster action first


def test_the_pipeline_writes_and_the_search_function_reads_documents_only() -> None:
    write, read, _ = roles()

    assert (write.backend_roles, read.backend_roles) == ((PIPELINE,), (SEARCH,))
    assert write.index_patterns == read.index_patterns == ("documents",)
    assert "crud" in write.allowed_actions and "crud" not in read.allowed_actions
    assert not any(
        a == "*" or a.startswith("indices:admin/delete") for a in write.allowed_actions + read.allowed_actions
    )


def test_create_puts_each_role_then_its_mapping() -> None:
    api = RecordedSecurityApi()

    changed = rm.apply(api, roles())

    assert api.writes() == [
        ("PUT", f"{API}/roles/{rm.WRITE_ROLE}"),
        ("PUT", f"{API}/rolesmapping/{rm.WRITE_ROLE}"),
        ("PUT", f"{API}/roles/{rm.READ_ROLE}"),
        ("PUT", f"{API}/rolesmapping/{rm.READ_ROLE}"),
        ("PUT", f"{API}/roles/{rm.SWEEP_ROLE}"),
        ("PUT", f"{API}/rolesmapping/{rm.SWEEP_ROLE}"),
    ]
    assert len(changed) == 6
    assert api.stored["rolesmapping"][rm.WRITE_ROLE]["backend_roles"] == [PIPELINE]


def test_a_second_run_only_reads() -> None:
    api = RecordedSecurityApi()
    rm.apply(api, roles())
    api.calls.clear()

    assert rm.apply(api, roles()) == []
    assert api.writes() == []


def test_a_half_finished_run_is_completed_without_rewriting_what_is_right() -> None:
    # Given a run that stopped after the write role (its mapping never arrived)
    api = RecordedSecurityApi()
    api.fail_next[("PUT", f"{API}/rolesmapping/{rm.WRITE_ROLE}")] = (503, {"error": "unavailable"})
    with pytest.raises(rm.SecurityApiError):
        rm.apply(api, roles())
    api.calls.clear()

    # When it runs again
    changed = rm.apply(api, roles())

    # Then only what is missing is written
    assert changed == [
        f"rolesmapping/{rm.WRITE_ROLE}",
        *(f"{kind}/{role}" for role in (rm.READ_ROLE, rm.SWEEP_ROLE) for kind in ("roles", "rolesmapping")),
    ]


def test_a_mapping_changed_by_hand_is_put_back() -> None:
    api = RecordedSecurityApi()
    rm.apply(api, roles())
    api.stored["rolesmapping"][rm.READ_ROLE]["backend_roles"].append("arn:aws:iam::111111111111:role/intruder")
    api.calls.clear()

    assert rm.apply(api, roles()) == [f"rolesmapping/{rm.READ_ROLE}"]
    assert api.stored["rolesmapping"][rm.READ_ROLE]["backend_roles"] == [SEARCH]


def test_update_replaces_a_changed_role_arn_and_removes_roles_no_longer_wanted() -> None:
    api = RecordedSecurityApi()
    old = (*roles(), rm.IndexRole("folio_old", ("documents",), ("read",), (), (SEARCH,)))
    rm.apply(api, old)
    new = rm.documents_roles(pipeline_role_arn=PIPELINE + "2", search_role_arns=[SEARCH], sweep_role_arn=SWEEP)

    changed = rm.apply(api, new, previous=old)

    assert changed == [f"rolesmapping/{rm.WRITE_ROLE}", "rolesmapping/folio_old", "roles/folio_old"]
    assert set(api.stored["roles"]) == {rm.WRITE_ROLE, rm.READ_ROLE, rm.SWEEP_ROLE}


def test_delete_removes_mappings_before_roles_and_a_second_delete_is_quiet() -> None:
    api = RecordedSecurityApi()
    rm.apply(api, roles())
    api.calls.clear()

    assert rm.remove(api, roles()) == [
        f"rolesmapping/{rm.WRITE_ROLE}",
        f"roles/{rm.WRITE_ROLE}",
        f"rolesmapping/{rm.READ_ROLE}",
        f"roles/{rm.READ_ROLE}",
        f"rolesmapping/{rm.SWEEP_ROLE}",
        f"roles/{rm.SWEEP_ROLE}",
    ]
    assert api.stored == {"roles": {}, "rolesmapping": {}}
    assert rm.remove(api, roles()) == []


def test_a_reserved_role_is_never_overwritten() -> None:
    api = RecordedSecurityApi()
    api.stored["roles"][rm.WRITE_ROLE] = {"reserved": True, "cluster_permissions": [], "index_permissions": []}

    with pytest.raises(rm.SecurityApiError, match="reserved"):
        rm.apply(api, roles())
    assert api.writes() == []


@pytest.mark.parametrize(("method", "status"), [("GET", 403), ("PUT", 400), ("DELETE", 500)])
def test_unexpected_answers_fail_loudly(method: str, status: int) -> None:
    api = RecordedSecurityApi()
    api.fail_next[(method, f"{API}/{'roles' if method != 'DELETE' else 'rolesmapping'}/{rm.WRITE_ROLE}")] = (
        status,
        {"error": "x"},
    )

    with pytest.raises(rm.SecurityApiError) as caught:
        rm.remove(api, roles()) if method == "DELETE" else rm.apply(api, roles())
    assert caught.value.status == status


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::111111111111:role/FolioDev-Search-IngestionRole",
        "arn:aws:iam::111111111111:role/service-role/folio/Search_Role+=,.@-1",
        "arn:aws-cn:iam::111111111111:role/r",
        "arn:aws-us-gov:iam::111111111111:role/r",
    ],
)
def test_the_resource_takes_role_arns_of_any_partition_and_path(arn: str) -> None:
    props = rm.ResourceProperties.parse(
        {
            rm.ENDPOINT_PROPERTY: "https://vpc-folio-abc.us-east-1.es.amazonaws.com",
            rm.PIPELINE_ROLE_ARN_PROPERTY: arn,
            rm.SEARCH_ROLE_ARNS_PROPERTY: [SEARCH, arn],
            rm.SWEEP_ROLE_ARN_PROPERTY: arn,
            "ServiceToken": "arn:aws:lambda:us-east-1:111111111111:function:f",
        }
    )

    assert props.roles() == rm.documents_roles(
        pipeline_role_arn=arn, search_role_arns=[SEARCH, arn], sweep_role_arn=arn
    )
    assert props.physical_id == "folio-documents-roles@vpc-folio-abc.us-east-1.es.amazonaws.com"


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::111111111111:role/",
        "arn:aws:iam::111111111111:role/r\n",
        "arn:aws:iam::111111111111:role/" + "r" * 65,
        "arn:aws:iam::111111111111:group/r",
        "arn:aws:sts::111111111111:assumed-role/r/session",
        "arn:aws:iam:us-east-1:111111111111:role/r",
    ],
)
def test_the_resource_refuses_anything_but_an_iam_role_arn(arn: str) -> None:
    with pytest.raises(rm.InvalidProperties, match=f"^{rm.PIPELINE_ROLE_ARN_PROPERTY} must be an IAM role ARN"):
        rm.ResourceProperties.parse(
            {
                rm.ENDPOINT_PROPERTY: "https://h",
                rm.PIPELINE_ROLE_ARN_PROPERTY: arn,
                rm.SEARCH_ROLE_ARNS_PROPERTY: [SEARCH],
                rm.SWEEP_ROLE_ARN_PROPERTY: SWEEP,
            }
        )
