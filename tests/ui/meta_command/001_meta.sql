CREATE TABLE IF NOT EXISTS t (id int);
\echo "Starting migration"
INSERT INTO t VALUES (1);
    \i other.sql
