DROP TABLE messages;
DROP TABLE media;
DROP TABLE chat_sessions;
