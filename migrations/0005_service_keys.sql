-- Keys that every instance of the service must share, such as the one that
-- signs page cursors: the first instance to need a key stores a random one
-- here, and every instance, now or after a restart, uses that one. So a
-- cursor issued by one instance pages on another without any setting.
CREATE TABLE service_keys (
  name text PRIMARY KEY,
  key bytea NOT NULL CHECK (length(key) >= 32),
  created_at timestamptz NOT NULL DEFAULT now()
);
