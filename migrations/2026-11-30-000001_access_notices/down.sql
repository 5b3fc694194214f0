DROP TRIGGER users_deleted ON users;
DROP TRIGGER users_access_changed ON users;
DROP TRIGGER login_sessions_deleted ON login_sessions;
DROP TRIGGER login_sessions_access_changed ON login_sessions;
DROP FUNCTION dealroom_access_changed();
