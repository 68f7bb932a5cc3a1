-- Migration 003: each lint silenced where it is intended
-- migrate: allow(foreign-key-without-on-delete)
CREATE TABLE IF NOT EXISTS audit (profile_id int REFERENCES profiles(id));
DROP TABLE IF EXISTS legacy_two; -- migrate: allow(destructive-change)
-- migrate: allow(blocking-index)
CREATE INDEX IF NOT EXISTS idx_profiles_id ON profiles (id);
