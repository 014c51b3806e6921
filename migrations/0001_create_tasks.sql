-- Tasks, as the wire contract describes them. The checks repeat the API's
-- rules so that no other writer can store what the API would refuse.
CREATE TABLE tasks (
  id          uuid PRIMARY KEY,
  title       text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 255),
  description text CHECK (char_length(description) <= 10000),
  status      text NOT NULL DEFAULT 'pending'
              CHECK (status IN ('pending', 'in_progress', 'completed')),
  -- Millisecond precision, as on the wire, so clients page in the order
  -- the server sorts by.
  created_at  timestamptz(3) NOT NULL DEFAULT clock_timestamp(),
  updated_at  timestamptz(3) NOT NULL DEFAULT clock_timestamp()
);

-- Keyset pagination, newest first, with and without the status filter.
CREATE INDEX tasks_created_at_id ON tasks (created_at DESC, id DESC);
CREATE INDEX tasks_status_created_at_id ON tasks (status, created_at DESC, id DESC);
