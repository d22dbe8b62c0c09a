-- SQS event source mappings (model/esm.py): the record as JSON plus the columns lookups use.
CREATE TABLE event_source_mappings (
    uuid text COLLATE "C" PRIMARY KEY,
    source_arn text COLLATE "C" NOT NULL,
    function_name text COLLATE "C" NOT NULL,
    function_arn text COLLATE "C" NOT NULL,
    deleting boolean NOT NULL DEFAULT false,
    changed_ms bigint NOT NULL,
    data bytea NOT NULL
);
CREATE INDEX esm_source ON event_source_mappings(source_arn);
CREATE INDEX esm_function ON event_source_mappings(function_name);
