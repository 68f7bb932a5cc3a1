-- ================================================================
-- Migration 003: Add email verification
-- Version: v9c
-- Date: 2026-03-21
-- ================================================================

ALTER TABLE profiles
    ADD COLUMN IF NOT EXISTS email_verified BOOLEAN DEFAULT FALSE,
    ADD COLUMN IF NOT EXISTS verification_token VARCHAR(64),
    ADD COLUMN IF NOT EXISTS verification_expires TIMESTAMP WITH TIME ZONE;

-- Profiles that signed up before verification existed count as verified
UPDATE profiles
SET email_verified = TRUE
WHERE email IS NOT NULL AND email_verified IS NOT TRUE;

-- Only unverified profiles carry a token, so the index stays small.
-- Building it locks writes to profiles briefly; when verification was
-- introduced the table held a few thousand rows, so this is acceptable.
-- migrate: allow(blocking-index)
CREATE INDEX IF NOT EXISTS idx_profiles_verification_token
ON profiles(verification_token)
WHERE verification_token IS NOT NULL;

COMMENT ON COLUMN profiles.email_verified IS 'Whether the email address has been verified';
COMMENT ON COLUMN profiles.verification_token IS 'Token sent by email; NULL once verified';
