-- Event history (store/postgres/history.py): one row per attempt, written in finish_attempt's transaction
-- (seq: appended in time order, so activity and pruning walk it instead of a second index), delivery
-- results, and the browser's per-function page of ended events.
CREATE TABLE event_attempts (
    seq bigserial PRIMARY KEY,
    request_id text COLLATE "C" NOT NULL,
    function text COLLATE "C" NOT NULL,
    run integer NOT NULL,
    number integer NOT NULL,
    started_ms bigint NOT NULL,
    ended_ms bigint NOT NULL,
    result text NOT NULL,
    error_type text,
    error_message text,
    retry_at_ms bigint,
    condition text
);
CREATE INDEX event_attempts_request ON event_attempts(request_id);

CREATE TABLE event_deliveries (
    request_id text COLLATE "C" NOT NULL,
    side text COLLATE "C" NOT NULL,
    target_arn text NOT NULL,
    delivered boolean NOT NULL,
    attempts integer NOT NULL,
    at_ms bigint NOT NULL,
    error text,
    PRIMARY KEY (request_id, side)
);
CREATE INDEX event_deliveries_at ON event_deliveries(at_ms);

CREATE INDEX outcomes_function_ended ON outcomes(function, ended_ms);
