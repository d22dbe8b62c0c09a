"""The S3-compatible service (path style, REST + XML): buckets, objects streamed to files in the data folder,
multipart uploads, and bucket notifications queued with the write that causes them."""

from lambdalite.services.s3.service import S3Service

__all__ = ["S3Service"]
