"""What every Folio bucket that holds users' data, or copies of it, is: one place to read it."""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3


def private_bucket_properties(encryption_key: kms.IKey) -> dict[str, Any]:
    """`s3.Bucket` settings shared by the documents bucket, the audit archive and the search
    exports bucket: SSE-KMS with the given key and a bucket key (fewer KMS calls), no public
    access, no ACLs, TLS 1.2+ only, versioned (a delete or overwrite keeps the old version)."""
    return {
        "encryption": s3.BucketEncryption.KMS,
        "encryption_key": encryption_key,
        "bucket_key_enabled": True,
        "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
        "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        "enforce_ssl": True,
        "minimum_tls_version": 1.2,
        "versioned": True,
    }
