-- Migration 002: constraints that check only new rows, and columns without a rewrite
ALTER TABLE profiles ADD CONSTRAINT email_not_null CHECK (email IS NOT NULL) NOT VALID;
ALTER TABLE profiles ADD CONSTRAINT age_positive CHECK (age > 0) NOT VALID;
ALTER TABLE profiles ADD COLUMN IF NOT EXISTS plan text NOT NULL DEFAULT 'free';
ALTER TABLE profiles ADD COLUMN IF NOT EXISTS token uuid;
ALTER TABLE profiles ALTER COLUMN token SET DEFAULT gen_random_uuid();
ALTER TABLE profiles ADD COLUMN IF NOT EXISTS age_big bigint;
ALTER TABLE profiles ADD COLUMN IF NOT EXISTS nickname text;
