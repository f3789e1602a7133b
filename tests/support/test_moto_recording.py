"""tests/support/moto_recording.py: moto's server records the calls it serves, with an STS call's
parameters, forgets them on `reset()`, and keeps each account's resources in that account."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.moto_recording import RecordingMotoServer


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RecordingMotoServer]:
    with RecordingMotoServer(tmp_path_factory.mktemp("moto-recording")) as server:
        yield server


def test_it_records_calls_with_their_form_parameters_and_forgets_them_on_reset(moto: RecordingMotoServer) -> None:
    moto.client("sts").get_caller_identity()
    moto.reset()
    role = "arn:aws:iam::111111111111:role/r"

    moto.client("sts").assume_role(RoleArn=role, RoleSessionName="session")
    moto.client("s3").list_buckets()

    calls = moto.calls()
    assert [c.action for c in calls] == ["AssumeRole", None]
    assert calls[0].parameters["RoleArn"] == role
    assert (calls[1].method, calls[1].path) == ("GET", "/")


def test_a_client_in_an_account_acts_there(moto: RecordingMotoServer) -> None:
    moto.client_in("222222222222", "s3", "eu-west-1").create_bucket(
        Bucket="only-in-222222222222", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )

    identity = moto.client_in("222222222222", "sts", "eu-west-1").get_caller_identity()
    in_account = moto.client_in("222222222222", "s3", "eu-west-1").list_buckets()["Buckets"]
    elsewhere = moto.client_in("111111111111", "s3", "eu-west-1").list_buckets()["Buckets"]

    assert identity["Account"] == "222222222222"
    assert [b["Name"] for b in in_account] == ["only-in-222222222222"]
    assert elsewhere == []
