-- Reverts 003_add_email_verification.sql.
-- migrate: allow(destructive-change)
DROP INDEX IF EXISTS idx_profiles_verification_token;
ALTER TABLE profiles
    DROP COLUMN IF EXISTS verification_expires,
    DROP COLUMN IF EXISTS verification_token,
    DROP COLUMN IF EXISTS email_verified;
