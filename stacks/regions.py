"""Which AWS Regions offer the services Folio deploys.

Config validation uses this table so that a Region without, say, DAX fails the synth
with a clear message instead of failing a deploy an hour in. The table was derived
from cfn-lint's per-Region CloudFormation schemas (a resource type missing from a
Region's schema cannot be deployed there); tests/unit/test_regions.py re-derives it
from the installed cfn-lint and fails when the two disagree, so upgrading cfn-lint
tells us when AWS launches a service in a new Region.
"""

from __future__ import annotations

from enum import Enum


class Service(Enum):
    """A service Folio deploys, with the CloudFormation type that proves it is offered."""

    DYNAMODB_GLOBAL_TABLES = "AWS::DynamoDB::GlobalTable"
    KMS = "AWS::KMS::Key"
    BACKUP = "AWS::Backup::BackupVault"
    COGNITO = "AWS::Cognito::UserPool"
    LAMBDA = "AWS::Lambda::Function"
    API_GATEWAY = "AWS::ApiGateway::RestApi"
    WAF = "AWS::WAFv2::WebACL"
    DAX = "AWS::DAX::Cluster"
    OPENSEARCH = "AWS::OpenSearchService::Domain"
    OPENSEARCH_INGESTION = "AWS::OSIS::Pipeline"
    KINESIS = "AWS::Kinesis::Stream"
    FIREHOSE = "AWS::KinesisFirehose::DeliveryStream"


# Commercial-partition Regions that cfn-lint 1.58 knows. China, GovCloud and the
# isolated partitions are out of scope: their ARNs and endpoints differ.
KNOWN_REGIONS: frozenset[str] = frozenset(
    {
        "af-south-1", "ap-east-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2",
        "ap-northeast-3", "ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2",
        "ap-southeast-3", "ap-southeast-4", "ap-southeast-5", "ap-southeast-6",
        "ap-southeast-7", "ca-central-1", "ca-west-1", "eu-central-1", "eu-central-2",
        "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3",
        "il-central-1", "me-central-1", "mx-central-1", "sa-east-1", "us-east-1",
        "us-east-2", "us-west-1", "us-west-2",
    }
)  # fmt: skip

# Services offered in only some of KNOWN_REGIONS; every other Service is offered in all.
_PARTIAL_AVAILABILITY: dict[Service, frozenset[str]] = {
    Service.DAX: frozenset(
        {
            "ap-northeast-1", "ap-south-1", "ap-southeast-1", "ap-southeast-2",
            "eu-central-1", "eu-west-1", "eu-west-2", "eu-west-3", "sa-east-1",
            "us-east-1", "us-east-2", "us-west-1", "us-west-2",
        }
    ),
    Service.OPENSEARCH_INGESTION: frozenset(
        {
            "ap-northeast-1", "ap-northeast-2", "ap-south-1", "ap-southeast-1",
            "ap-southeast-2", "ca-central-1", "eu-central-1", "eu-north-1", "eu-south-2",
            "eu-west-1", "eu-west-2", "eu-west-3", "sa-east-1", "us-east-1", "us-east-2",
            "us-west-1", "us-west-2",
        }
    ),
}  # fmt: skip


def regions_offering(service: Service) -> frozenset[str]:
    """The Regions in which `service` can be deployed."""
    return _PARTIAL_AVAILABILITY.get(service, KNOWN_REGIONS)


def missing_services(region: str, needed: set[Service]) -> list[Service]:
    """The services of `needed` that `region` does not offer, in a stable order."""
    return sorted((s for s in needed if region not in regions_offering(s)), key=lambda s: s.name)
