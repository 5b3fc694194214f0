DROP TABLE exchange_rates;
DROP TABLE exchange_rate_dates;
