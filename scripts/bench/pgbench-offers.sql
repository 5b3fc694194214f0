-- The database ceiling of the offers scenario, GET /api/v1/sessions/{id}/offers?currency=EUR:
-- the SQL one such request needs, as the store runs it (crates/store/src/market.rs,
-- PgStore::session_offers): one read-only snapshot holding the session's owner, all its
-- sellers in order, and the latest day of rates on or before today with its rates.
-- Run by scripts/bench/bench.py with pgbench -M prepared; :session is the seeded chat
-- session (pgbench -D). The caller check is answered from the instance's cache (see
-- pgbench-page.sql).
BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
SELECT user_id FROM chat_sessions WHERE id = :session;
SELECT id, session_id, name, email, phone, product_name, product_description, price_minor,
       currency, quantity, unit, created_at, updated_at
  FROM sellers WHERE session_id = :session ORDER BY created_at ASC, id ASC;
SELECT date, base FROM exchange_rate_dates WHERE date <= current_date ORDER BY date DESC LIMIT 1;
SELECT currency, rate FROM exchange_rates
 WHERE date = (SELECT date FROM exchange_rate_dates WHERE date <= current_date ORDER BY date DESC LIMIT 1);
COMMIT;
