-- Subscribers of every instance hear of each committed change to a task: the
-- database announces it on the task_events channel, which each instance
-- LISTENs on (see src/server/tasks/TaskEvents.ts). A notification is sent at
-- commit, so a rolled-back write announces nothing, and a write made by any
-- instance, or by hand, is heard by all of them.
--
-- The task travels with the event, its timestamps rendered as the service
-- answers them, unless it would not fit a notification (8000 bytes: a long
-- description); then the listener reads it back.
CREATE FUNCTION announce_task_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  changed tasks;
  event jsonb;
  payload text;
BEGIN
  IF TG_OP = 'DELETE' THEN
    changed := OLD;
  ELSE
    changed := NEW;
  END IF;
  event := jsonb_build_object(
    'owner', changed.owner,
    'kind', CASE TG_OP WHEN 'INSERT' THEN 'CREATED' WHEN 'UPDATE' THEN 'UPDATED' ELSE 'DELETED' END,
    'id', changed.id
  );
  IF TG_OP = 'DELETE' THEN
    payload := event::text;
  ELSE
    payload := (event || jsonb_build_object('task', jsonb_build_object(
      'id', changed.id,
      'title', changed.title,
      'description', changed.description,
      'status', changed.status,
      'created_at', to_char(changed.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
      'updated_at', to_char(changed.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
    )))::text;
    IF octet_length(payload) > 7900 THEN
      payload := event::text;
    END IF;
  END IF;
  PERFORM pg_notify('task_events', payload);
  RETURN NULL;
END
$$;

CREATE TRIGGER tasks_announce_change
  AFTER INSERT OR UPDATE OR DELETE ON tasks
  FOR EACH ROW EXECUTE FUNCTION announce_task_change();
