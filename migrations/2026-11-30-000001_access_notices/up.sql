-- Every change to who may act is told to every instance: the user's id on the
-- channel `dealroom_auth`, delivered at commit (never for a rollback). Each
-- instance's events listener hears it and forgets that user in its cache of
-- the per-request login-session check (contract §2: within one second on
-- every instance). Triggers, not application code, so that a change made by
-- any path, an operator's psql included, is heard. Within one transaction,
-- PostgreSQL folds identical notices into one, so ending a user's hundred
-- login sessions sends one.

CREATE FUNCTION dealroom_access_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'users' THEN
    PERFORM pg_notify('dealroom_auth', OLD.id::text);
  ELSE
    PERFORM pg_notify('dealroom_auth', OLD.user_id::text);
  END IF;
  RETURN NULL;
END
$$;

-- A login session revoked, cut short, or moved (never done, but then heard).
CREATE TRIGGER login_sessions_access_changed
  AFTER UPDATE OF revoked_at, expires_at, user_id ON login_sessions
  FOR EACH ROW
  WHEN (NEW.revoked_at IS DISTINCT FROM OLD.revoked_at
        OR NEW.expires_at < OLD.expires_at
        OR NEW.user_id <> OLD.user_id)
  EXECUTE FUNCTION dealroom_access_changed();

CREATE TRIGGER login_sessions_deleted
  AFTER DELETE ON login_sessions
  FOR EACH ROW EXECUTE FUNCTION dealroom_access_changed();

-- A user's role or state changed.
CREATE TRIGGER users_access_changed
  AFTER UPDATE OF role, is_active ON users
  FOR EACH ROW
  WHEN (NEW.role IS DISTINCT FROM OLD.role OR NEW.is_active IS DISTINCT FROM OLD.is_active)
  EXECUTE FUNCTION dealroom_access_changed();

CREATE TRIGGER users_deleted
  AFTER DELETE ON users
  FOR EACH ROW EXECUTE FUNCTION dealroom_access_changed();
