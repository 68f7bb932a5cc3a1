-- Migration 003: validate in a later file, then SET NOT NULL needs no scan
ALTER TABLE profiles VALIDATE CONSTRAINT email_not_null;
ALTER TABLE profiles VALIDATE CONSTRAINT age_positive;
ALTER TABLE profiles ALTER COLUMN email SET NOT NULL;
