-- Function logs (store/postgres/function_logs.py): one row per write of the runtime's LogBook, so every
-- node's Logs API and `lambdalite logs` show the runs of every worker. function_log_totals holds each
-- function's stored bytes (the bound is kept without summing) and is the row that orders one function's
-- appends: an append locks it before taking ids, so ids follow commit order per function (a follower
-- reading `id > last` misses nothing).
CREATE TABLE function_logs (
    id bigserial PRIMARY KEY,
    function text COLLATE "C" NOT NULL,
    stream text NOT NULL,
    time_ms bigint NOT NULL,
    bytes integer NOT NULL,  -- octet_length(data), so the bound is counted without reading data
    data bytea NOT NULL
);
CREATE INDEX function_logs_by_function ON function_logs (function, id);

CREATE TABLE function_log_totals (
    function text COLLATE "C" PRIMARY KEY,
    created_ms bigint NOT NULL,
    stored_bytes bigint NOT NULL
);
