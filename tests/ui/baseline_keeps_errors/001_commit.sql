-- Migration 001: history, but an error is never silenced
CREATE TABLE IF NOT EXISTS t (id int);
COMMIT;
