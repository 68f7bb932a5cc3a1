\echo starting
BEGIN;
CREATE TABLE IF NOT EXISTS t (id int);
