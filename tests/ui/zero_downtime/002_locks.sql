-- Migration 002: each change locks or rewrites `profiles`, a table that already exists
ALTER TABLE profiles ALTER COLUMN age TYPE bigint;
ALTER TABLE profiles ALTER COLUMN email SET NOT NULL;
ALTER TABLE profiles ADD COLUMN IF NOT EXISTS plan text NOT NULL;
ALTER TABLE profiles ADD COLUMN IF NOT EXISTS token uuid DEFAULT gen_random_uuid();
ALTER TABLE profiles ADD CONSTRAINT age_positive CHECK (age > 0);
ALTER TABLE profiles ADD CONSTRAINT email_unique UNIQUE (email);
ALTER TABLE profiles RENAME COLUMN nick TO nickname;
CLUSTER profiles USING profiles_pkey;
LOCK TABLE profiles IN ACCESS EXCLUSIVE MODE;
