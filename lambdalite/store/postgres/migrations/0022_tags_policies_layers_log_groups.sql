-- Resource tags, Lambda resource policies, layer versions and log groups (the models: store/sqlite/tags.py,
-- permissions.py, layers.py, log_groups.py).
CREATE TABLE resource_tags (
    arn text COLLATE "C" PRIMARY KEY,
    tags bytea NOT NULL
);

CREATE TABLE function_policies (
    function text COLLATE "C" NOT NULL,
    qualifier text COLLATE "C" NOT NULL,
    statements bytea NOT NULL,
    revision_id text NOT NULL,
    PRIMARY KEY (function, qualifier)
);

CREATE TABLE layer_names (
    name text COLLATE "C" PRIMARY KEY,
    next_version integer NOT NULL
);

CREATE TABLE layer_versions (
    name text COLLATE "C" NOT NULL,
    version integer NOT NULL,
    config bytea NOT NULL,
    code_sha text NOT NULL,
    created_ms bigint NOT NULL,
    deleted boolean NOT NULL DEFAULT false,
    PRIMARY KEY (name, version)
);

CREATE TABLE log_groups (
    name text COLLATE "C" PRIMARY KEY,
    created_ms bigint NOT NULL,
    retention_days integer,
    explicit boolean NOT NULL DEFAULT false
);
