-- clock_timestamp() is read once per column, so a new task's created_at and
-- updated_at could fall in different milliseconds. now() is one value for the
-- whole statement: a task is created with updated_at = created_at.
ALTER TABLE tasks
  ALTER COLUMN created_at SET DEFAULT now(),
  ALTER COLUMN updated_at SET DEFAULT now();
