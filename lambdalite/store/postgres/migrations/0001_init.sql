-- lambdalite on PostgreSQL: the first schema. Mirrors store/sqlite's tables (same names and meanings);
-- blobs are bytea, times are bigint milliseconds (or seconds where the column says _s).
-- Text columns use the "C" collation: names sort and compare byte by byte, as on SQLite and AWS.

-- ---- configuration: functions, versions, aliases, event invoke configs --------------------------------
CREATE TABLE functions (
    name text COLLATE "C" PRIMARY KEY,
    reserved_concurrency integer,
    config bytea NOT NULL,
    code_sha text COLLATE "C" NOT NULL DEFAULT '',
    recursion text COLLATE "C" NOT NULL DEFAULT 'Terminate',
    next_version integer NOT NULL DEFAULT 1
);
CREATE TABLE function_versions (
    name text COLLATE "C" NOT NULL,
    version integer NOT NULL,
    config bytea NOT NULL,
    code_sha text COLLATE "C" NOT NULL,
    source_revision text COLLATE "C" NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE TABLE function_aliases (
    name text COLLATE "C" NOT NULL,
    alias text COLLATE "C" NOT NULL,
    config bytea NOT NULL,
    PRIMARY KEY (name, alias)
);
CREATE TABLE event_configs (
    function text COLLATE "C" NOT NULL,
    qualifier text COLLATE "C" NOT NULL,
    config bytea NOT NULL,
    last_modified_ms bigint NOT NULL,
    PRIMARY KEY (function, qualifier)
);

-- Every change to the configuration tables bumps this counter and tells every node (NOTIFY 'config'):
-- nodes drop their configuration caches on the notification, or at their next poll of the counter.
CREATE TABLE config_generation (id integer PRIMARY KEY CHECK (id = 1), gen bigint NOT NULL);
INSERT INTO config_generation(id, gen) VALUES (1, 0);
CREATE FUNCTION lambdalite_config_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE config_generation SET gen = gen + 1 WHERE id = 1;
    PERFORM pg_notify('lambdalite', 'config');
    RETURN NULL;
END $$;
CREATE TRIGGER functions_gen AFTER INSERT OR UPDATE OR DELETE ON functions
    FOR EACH STATEMENT EXECUTE FUNCTION lambdalite_config_changed();
CREATE TRIGGER function_versions_gen AFTER INSERT OR UPDATE OR DELETE ON function_versions
    FOR EACH STATEMENT EXECUTE FUNCTION lambdalite_config_changed();
CREATE TRIGGER function_aliases_gen AFTER INSERT OR UPDATE OR DELETE ON function_aliases
    FOR EACH STATEMENT EXECUTE FUNCTION lambdalite_config_changed();
CREATE TRIGGER event_configs_gen AFTER INSERT OR UPDATE OR DELETE ON event_configs
    FOR EACH STATEMENT EXECUTE FUNCTION lambdalite_config_changed();

-- ---- the queue engine: async events (kind 'lambda'), SQS messages, delivery jobs --------------------
CREATE TABLE messages (
    seq bigserial PRIMARY KEY,
    kind text COLLATE "C" NOT NULL,
    queue text COLLATE "C" NOT NULL,
    id text COLLATE "C" NOT NULL UNIQUE,
    body bytea NOT NULL,
    attrs bytea,
    sent_ms bigint NOT NULL,
    visible_ms bigint NOT NULL,
    receive_count integer NOT NULL DEFAULT 0,
    first_receive_ms bigint,
    receipt text COLLATE "C",
    leased boolean NOT NULL DEFAULT false
);
CREATE INDEX messages_queue_due ON messages(queue, visible_ms);
CREATE INDEX messages_kind_due ON messages(kind, visible_ms);

-- Concurrency slots of every node: counted under one advisory lock in the transaction that takes one.
CREATE TABLE slots (
    id bigserial PRIMARY KEY,
    function text COLLATE "C" NOT NULL,
    holder text COLLATE "C" NOT NULL,
    expires_ms bigint NOT NULL
);
CREATE INDEX slots_function ON slots(function, expires_ms);

CREATE TABLE outcomes (
    request_id text COLLATE "C" PRIMARY KEY,
    function text COLLATE "C" NOT NULL,
    condition text COLLATE "C" NOT NULL,
    approximate_invoke_count integer NOT NULL,
    ended_ms bigint NOT NULL,
    data bytea NOT NULL
);
CREATE INDEX outcomes_ended ON outcomes(ended_ms);

-- ---- SQS queue metadata (messages are in `messages`, kind 'sqs', queue = the queue's ARN) -----------
CREATE TABLE sqs_queues (
    region text COLLATE "C" NOT NULL,
    name text COLLATE "C" NOT NULL,
    arn text COLLATE "C" NOT NULL UNIQUE,
    attrs bytea NOT NULL,
    tags bytea NOT NULL,
    created_s bigint NOT NULL,
    modified_s bigint NOT NULL,
    PRIMARY KEY (region, name)
);

-- ---- EventBridge -------------------------------------------------------------------------------------
CREATE TABLE event_buses (
    region text COLLATE "C" NOT NULL,
    name text COLLATE "C" NOT NULL,
    arn text COLLATE "C" NOT NULL,
    description text COLLATE "C",
    created_s bigint NOT NULL,
    modified_s bigint NOT NULL,
    PRIMARY KEY (region, name)
);
CREATE TABLE event_rules (
    region text COLLATE "C" NOT NULL,
    bus text COLLATE "C" NOT NULL,
    name text COLLATE "C" NOT NULL,
    arn text COLLATE "C" NOT NULL,
    pattern text COLLATE "C",
    schedule text COLLATE "C",
    state text COLLATE "C" NOT NULL,
    description text COLLATE "C",
    role_arn text COLLATE "C",
    created_s bigint NOT NULL,
    PRIMARY KEY (region, bus, name)
);
CREATE TABLE event_targets (
    seq bigserial PRIMARY KEY,
    region text COLLATE "C" NOT NULL,
    bus text COLLATE "C" NOT NULL,
    rule text COLLATE "C" NOT NULL,
    id text COLLATE "C" NOT NULL,
    target bytea NOT NULL,
    UNIQUE (region, bus, rule, id)
);

-- ---- what SQLite keeps in the data folder: code archives and secrets every node shares --------------
CREATE TABLE code_archives (
    sha256 text PRIMARY KEY,
    zip bytea NOT NULL
);
CREATE TABLE shared_secrets (
    name text COLLATE "C" PRIMARY KEY,
    value bytea NOT NULL
);
