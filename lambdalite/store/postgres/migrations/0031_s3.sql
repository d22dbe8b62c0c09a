-- S3: buckets, objects' metadata (bodies are files in each node's data folder), multipart uploads.
CREATE TABLE s3_buckets (
    name text COLLATE "C" PRIMARY KEY,
    region text COLLATE "C" NOT NULL,
    created_ms bigint NOT NULL,
    notification text
);
CREATE TABLE s3_objects (
    bucket text COLLATE "C" NOT NULL,
    key text COLLATE "C" NOT NULL,
    size bigint NOT NULL,
    etag text COLLATE "C" NOT NULL,
    modified_ms bigint NOT NULL,
    blob text COLLATE "C" NOT NULL,
    content_type text NOT NULL,
    attrs bytea NOT NULL,
    PRIMARY KEY (bucket, key)
);
CREATE TABLE s3_uploads (
    upload_id text COLLATE "C" PRIMARY KEY,
    bucket text COLLATE "C" NOT NULL,
    key text COLLATE "C" NOT NULL,
    created_ms bigint NOT NULL,
    content_type text NOT NULL,
    attrs bytea NOT NULL
);
CREATE INDEX s3_uploads_bucket ON s3_uploads(bucket, key);
CREATE TABLE s3_parts (
    upload_id text COLLATE "C" NOT NULL,
    number integer NOT NULL,
    size bigint NOT NULL,
    etag text COLLATE "C" NOT NULL,
    modified_ms bigint NOT NULL,
    blob text COLLATE "C" NOT NULL,
    PRIMARY KEY (upload_id, number)
);
