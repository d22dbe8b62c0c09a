-- A body is `named` once the object or part row naming it commits (in that transaction). One left
-- unnamed for a day was kept by a request that never committed its metadata (a crash, a refused write
-- whose delete failed): maintenance drops it like a deleted one. Bodies stored before this migration
-- count as named.
ALTER TABLE s3_bodies ADD COLUMN named boolean NOT NULL DEFAULT true;
ALTER TABLE s3_bodies ALTER COLUMN named SET DEFAULT false;
CREATE INDEX s3_bodies_unnamed ON s3_bodies(created_ms) WHERE NOT named AND dropped_ms IS NULL;
