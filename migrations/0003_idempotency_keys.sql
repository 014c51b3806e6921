-- POST /tasks with an Idempotency-Key creates at most one task per key: the
-- first request claims the key and stores its answer, retries get that answer.
CREATE TABLE idempotency_keys (
  key         text PRIMARY KEY,
  -- A hash of the request's decoded body: the same key with another body is refused.
  fingerprint text NOT NULL,
  -- The task as the first request answered it; NULL only inside that request's transaction.
  task        jsonb,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Keys live 24 hours; this finds the expired ones to purge.
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
