-- Migration 001: the application's table, already in production
CREATE TABLE IF NOT EXISTS profiles (id int PRIMARY KEY, email text, age int, nick text);
-- A table created in the same file is new and empty: nothing waits for it.
CREATE TABLE IF NOT EXISTS plans (id int);
ALTER TABLE plans ALTER COLUMN id TYPE bigint, ALTER COLUMN id SET NOT NULL, ADD CONSTRAINT plans_unique UNIQUE (id);
