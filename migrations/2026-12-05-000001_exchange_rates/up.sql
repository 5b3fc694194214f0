-- Daily reference exchange rates (contract 3.7b): each date has one base
-- currency and the rates against it, units of that currency per 1 unit of
-- the base. Writing a date replaces everything it held.

CREATE TABLE exchange_rate_dates (
    date date PRIMARY KEY,
    base text NOT NULL CONSTRAINT exchange_rate_dates_base_check CHECK (base ~ '^[A-Z]{3}$')
);

CREATE TABLE exchange_rates (
    date     date NOT NULL REFERENCES exchange_rate_dates (date) ON DELETE CASCADE,
    currency text NOT NULL CONSTRAINT exchange_rates_currency_check CHECK (currency ~ '^[A-Z]{3}$'),
    -- Exact decimals (at most 10 significant digits, checked by the service).
    rate     numeric NOT NULL CONSTRAINT exchange_rates_rate_check CHECK (rate > 0),
    PRIMARY KEY (date, currency)
);
