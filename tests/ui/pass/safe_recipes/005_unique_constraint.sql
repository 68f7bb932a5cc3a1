-- Migration 005: the constraint takes over the index already built
ALTER TABLE profiles ADD CONSTRAINT email_unique UNIQUE USING INDEX email_unique;
