-- Scheduled rules' next ticks (store/postgres/schedules.py).
CREATE TABLE rule_schedules (
    region text COLLATE "C" NOT NULL,
    bus text COLLATE "C" NOT NULL,
    name text COLLATE "C" NOT NULL,
    arn text COLLATE "C" NOT NULL,
    expression text COLLATE "C" NOT NULL,
    anchor_ms bigint NOT NULL,
    next_ms bigint,
    PRIMARY KEY (region, bus, name)
);
CREATE INDEX rule_schedules_due ON rule_schedules (next_ms);
