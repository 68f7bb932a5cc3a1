-- ================================================================
-- Migration 001: Subscription system
-- Version: v9c
-- Date: 2026-03-20
-- ================================================================

-- Membership tiers offered to profiles
CREATE TABLE IF NOT EXISTS tiers (
    id SERIAL PRIMARY KEY,
    code VARCHAR(32) UNIQUE NOT NULL,
    name VARCHAR(100) NOT NULL,
    monthly_price_cents INTEGER NOT NULL DEFAULT 0 CHECK (monthly_price_cents >= 0),
    created_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP
);

INSERT INTO tiers (code, name, monthly_price_cents) VALUES
    ('free', 'Free', 0),
    ('basic', 'Basic', 499),
    ('premium', 'Premium', 999)
ON CONFLICT (code) DO NOTHING;

CREATE TABLE IF NOT EXISTS profiles (
    id SERIAL PRIMARY KEY,
    email VARCHAR(255) UNIQUE,
    display_name VARCHAR(100) NOT NULL,
    tier VARCHAR(32) NOT NULL DEFAULT 'free',
    created_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE IF NOT EXISTS subscriptions (
    id SERIAL PRIMARY KEY,
    profile_id INTEGER NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
    tier_id INTEGER NOT NULL REFERENCES tiers(id) ON DELETE RESTRICT,
    status VARCHAR(16) NOT NULL DEFAULT 'active'
        CHECK (status IN ('active', 'cancelled', 'expired')),
    started_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    ends_at TIMESTAMP WITH TIME ZONE
);

CREATE INDEX IF NOT EXISTS idx_subscriptions_profile ON subscriptions(profile_id);

CREATE TABLE IF NOT EXISTS coupons (
    id SERIAL PRIMARY KEY,
    code VARCHAR(64) UNIQUE NOT NULL,
    tier_id INTEGER NOT NULL REFERENCES tiers(id) ON DELETE CASCADE,
    duration_days INTEGER NOT NULL CHECK (duration_days > 0),
    max_redemptions INTEGER,
    redeemed_count INTEGER NOT NULL DEFAULT 0,
    valid_until TIMESTAMP WITH TIME ZONE
);

-- Time-limited access granted by a coupon or by hand
CREATE TABLE IF NOT EXISTS access_grants (
    id SERIAL PRIMARY KEY,
    profile_id INTEGER NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
    tier_id INTEGER NOT NULL REFERENCES tiers(id) ON DELETE CASCADE,
    coupon_id INTEGER REFERENCES coupons(id) ON DELETE SET NULL,
    granted_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    expires_at TIMESTAMP WITH TIME ZONE NOT NULL
);

CREATE INDEX IF NOT EXISTS idx_access_grants_profile ON access_grants(profile_id, expires_at);

COMMENT ON TABLE access_grants IS 'Time-limited access to a tier, e.g. from a redeemed coupon';
