-- S3 object and part bodies, shared by every node: one row per body, its bytes in chunks of about 1 MiB
-- keyed by the offset of their first byte (chunks of a concatenation keep their parts' sizes).
-- dropped_ms: deleted (no row names it, opening it fails); its chunks go once no download can still be
-- reading them (s3_prune_bodies).
CREATE TABLE s3_bodies (
    blob text COLLATE "C" PRIMARY KEY,
    size bigint NOT NULL,
    created_ms bigint NOT NULL,
    dropped_ms bigint
);
CREATE INDEX s3_bodies_dropped ON s3_bodies(dropped_ms) WHERE dropped_ms IS NOT NULL;
CREATE TABLE s3_body_chunks (
    blob text COLLATE "C" NOT NULL REFERENCES s3_bodies(blob) ON DELETE CASCADE,
    start_byte bigint NOT NULL,
    data bytea NOT NULL,
    PRIMARY KEY (blob, start_byte)
);
-- Stored uncompressed out of line: bodies are mostly compressed already, and a range reads only the
-- TOAST pieces it needs (substring of an uncompressed value).
ALTER TABLE s3_body_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
