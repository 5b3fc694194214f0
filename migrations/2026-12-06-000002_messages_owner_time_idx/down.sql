DROP INDEX CONCURRENTLY IF EXISTS messages_owner_time_idx
