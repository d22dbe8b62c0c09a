-- SQS message move tasks (StartMessageMoveTask): recorded by any API node, moved by a runner on any node;
-- a runner that stops reporting (heartbeat_ms) is replaced by another node's.
CREATE TABLE sqs_move_tasks (
    handle text COLLATE "C" PRIMARY KEY,
    source_arn text COLLATE "C" NOT NULL,
    destination_arn text,
    rate integer,
    to_move integer NOT NULL,
    started_ms bigint NOT NULL,
    status text NOT NULL,
    moved integer NOT NULL,
    failure text,
    owner text,
    heartbeat_ms bigint NOT NULL,
    seq bigserial NOT NULL
);
CREATE INDEX sqs_move_tasks_source ON sqs_move_tasks(source_arn, seq);
