"""`make bench`'s offers scenario (BENCH_SCENARIOS=offers): GET
/api/v1/sessions/{id}/offers?currency=EUR on a chat session of 500 sellers (the
cap) in 10 currencies, with rates for 30 dates, at the benchmark's connections,
paired with its pgbench ceiling (scripts/bench/pgbench-offers.sql) as (b) is.
Target: at least half of its ceiling, p99 under 50 ms."""

CURRENCIES = ["EUR", "USD", "GBP", "JPY", "CHF", "SEK", "PLN", "KWD", "CAD", "AUD"]
UNITS = ["kg", "g", "lb", "l", "ml", "pc", "dozen", "m", "ft", "box"]


def seed(psql, session):
    """500 sellers in `session` (10 currencies, 10 units) and 30 days of rates
    against EUR, in SQL."""
    currencies = "ARRAY[" + ",".join(f"'{c}'" for c in CURRENCIES) + "]"
    units = "ARRAY[" + ",".join(f"'{u}'" for u in UNITS) + "]"
    psql("-c", f"""
        INSERT INTO sellers (id, session_id, name, product_name, price_minor, currency, quantity, unit,
                             created_at, updated_at)
        SELECT gen_random_uuid(), '{session}', 'Seller ' || g, 'Product ' || g,
               1000 + (g * 7919) % 1000000, ({currencies})[1 + g % 10], 1 + g % 50,
               ({units})[1 + (g / 10) % 10], now() - (g || ' seconds')::interval, now()
          FROM generate_series(1, 500) g""",
         "-c", f"UPDATE chat_sessions SET seller_count = 500 WHERE id = '{session}'",
         "-c", """
        INSERT INTO exchange_rate_dates (date, base)
        SELECT current_date - d, 'EUR' FROM generate_series(0, 29) d""",
         "-c", f"""
        INSERT INTO exchange_rates (date, currency, rate)
        SELECT current_date - d, c, round((0.5 + random() * 100)::numeric, 4)
          FROM generate_series(0, 29) d, unnest({currencies}) c WHERE c <> 'EUR'""",
         "-c", "ANALYZE sellers", "-c", "ANALYZE exchange_rates")


def run(psql, run_paired, say, ids, token, connections):
    session = ids["session_id"]
    say("seeding offers: 500 sellers in 10 currencies, 30 days of rates")
    seed(psql, session)
    req = {"method": "GET", "path": f"/api/v1/sessions/{session}/offers?currency=EUR",
           "token": token, "tag": "offers"}
    label = "o. GET offers, 500 sellers, 10 currencies"
    results, ceiling = run_paired("offers", label, [req], connections, "pgbench-offers.sql", ids)
    res = results[0]
    res.update({"key": "offers", "label": label, "method": "GET",
                "path": "/api/v1/sessions/{id}/offers?currency=EUR", "connections": connections,
                "ceiling": ceiling, "ratio": res["rps"] / ceiling["tps"]})
    return [res]
