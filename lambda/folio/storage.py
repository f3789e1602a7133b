"""S3: short-lived presigned upload and download forms, and deleting every version of an object.

Object keys are built and parsed by folio.object_keys."""

from __future__ import annotations

from typing import Any

from botocore.config import Config

PRESIGN_SECONDS = 300  # the API promises at most five minutes
# botocore presigns S3 URLs with legacy SigV2 unless told otherwise; S3 refuses SigV2 for
# SSE-KMS objects (the documents bucket) and for buckets created since mid-2020.
CLIENT_CONFIG = Config(signature_version="s3v4")


class DocumentStorage:
    def __init__(self, client: Any, bucket: str, prefix: str) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    def upload_form(self, key: str, content_type: str, size: int) -> dict[str, Any]:
        """A presigned POST bound to the exact key, content type and size."""
        form: dict[str, Any] = self.client.generate_presigned_post(
            Bucket=self.bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", size, size]],
            ExpiresIn=PRESIGN_SECONDS,
        )
        return {"url": form["url"], "fields": form["fields"], "expiresIn": PRESIGN_SECONDS}

    def download_url(self, key: str, file_name: str) -> dict[str, Any]:
        safe_name = "".join(c if c.isalnum() or c in "._- " else "_" for c in file_name)[:200]
        url = self.client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "ResponseContentDisposition": f'attachment; filename="{safe_name}"',
            },
            ExpiresIn=PRESIGN_SECONDS,
        )
        return {"url": url, "expiresIn": PRESIGN_SECONDS}

    def head(self, key: str) -> dict[str, Any] | None:
        try:
            response: dict[str, Any] = self.client.head_object(Bucket=self.bucket, Key=key)
            return response
        except self.client.exceptions.ClientError as error:
            if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def delete_every_version(self, key: str) -> int:
        """Delete every version and delete marker of exactly `key` (the bucket is versioned, so
        a plain delete would only hide the bytes); return how many there were. Listing by the
        key as prefix is what lets the role's s3:ListBucketVersions be limited to an s3:prefix;
        other keys that merely start with it are left alone. Safe to repeat: a second call
        finds nothing to delete."""
        found: list[str] = []
        for page in self.client.get_paginator("list_object_versions").paginate(Bucket=self.bucket, Prefix=key):
            for kind in ("Versions", "DeleteMarkers"):
                found += [entry["VersionId"] for entry in page.get(kind, []) if entry["Key"] == key]
        for version_id in found:
            self.client.delete_object(Bucket=self.bucket, Key=key, VersionId=version_id)
        return len(found)
