-- SNS topics and subscriptions (lambdalite/store/postgres/sns.py); deliveries are queue-engine jobs.
CREATE TABLE sns_topics (
    arn text COLLATE "C" PRIMARY KEY,
    region text COLLATE "C" NOT NULL,
    name text COLLATE "C" NOT NULL,
    attributes bytea NOT NULL,
    tags bytea NOT NULL,
    created_ms bigint NOT NULL
);
CREATE INDEX sns_topics_region ON sns_topics(region, arn);

CREATE TABLE sns_subscriptions (
    arn text COLLATE "C" PRIMARY KEY,
    topic_arn text COLLATE "C" NOT NULL,
    region text COLLATE "C" NOT NULL,
    protocol text COLLATE "C" NOT NULL,
    endpoint text COLLATE "C" NOT NULL,
    owner text NOT NULL,
    attributes bytea NOT NULL,
    confirmed boolean NOT NULL,
    token text COLLATE "C",
    token_expires_ms bigint NOT NULL,
    created_ms bigint NOT NULL,
    UNIQUE (topic_arn, protocol, endpoint)
);
CREATE INDEX sns_subscriptions_region ON sns_subscriptions(region, arn);
