DROP TABLE login_sessions;
DROP TABLE users;
