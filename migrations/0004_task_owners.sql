-- Every task belongs to the subject of the token that created it. Tasks from
-- before owners existed go to the owner that AUTH_MODE=none serves, so a
-- developer's embedded database keeps showing them.
ALTER TABLE tasks ADD COLUMN owner text NOT NULL DEFAULT 'local';
ALTER TABLE tasks ALTER COLUMN owner DROP DEFAULT;

-- Every query is one owner's: the owner leads the list indexes.
DROP INDEX tasks_created_at_id;
DROP INDEX tasks_status_created_at_id;
CREATE INDEX tasks_owner_created_at_id ON tasks (owner, created_at DESC, id DESC);
CREATE INDEX tasks_owner_status_created_at_id ON tasks (owner, status, created_at DESC, id DESC);

-- Idempotency keys are the client's own: two users may pick the same key.
ALTER TABLE idempotency_keys ADD COLUMN owner text NOT NULL DEFAULT 'local';
ALTER TABLE idempotency_keys ALTER COLUMN owner DROP DEFAULT;
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys ADD PRIMARY KEY (owner, key);
