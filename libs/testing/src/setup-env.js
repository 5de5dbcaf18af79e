// Runs in every Jest worker before the test file: fixed time zone so date logic is deterministic.
process.env.TZ = 'UTC';
