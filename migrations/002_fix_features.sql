-- ================================================================
-- Migration 002: Fix features
-- Version: v9c
-- Date: 2026-03-20
-- ================================================================

-- Features each tier unlocks; the first version stored them as free text
CREATE TABLE IF NOT EXISTS features (
    id SERIAL PRIMARY KEY,
    code VARCHAR(64) UNIQUE NOT NULL,
    description TEXT NOT NULL DEFAULT ''
);

CREATE TABLE IF NOT EXISTS tier_features (
    tier_id INTEGER NOT NULL REFERENCES tiers(id) ON DELETE CASCADE,
    feature_id INTEGER NOT NULL REFERENCES features(id) ON DELETE CASCADE,
    PRIMARY KEY (tier_id, feature_id)
);

INSERT INTO features (code, description) VALUES
    ('export_csv', 'Export data as CSV'),
    ('api_access', 'Use the public API'),
    ('priority_support', 'Answer within one business day')
ON CONFLICT (code) DO NOTHING;

INSERT INTO tier_features (tier_id, feature_id)
SELECT t.id, f.id
FROM tiers t
JOIN features f ON (t.code, f.code) IN (
    ('basic', 'export_csv'),
    ('premium', 'export_csv'),
    ('premium', 'api_access'),
    ('premium', 'priority_support')
)
ON CONFLICT DO NOTHING;

-- Profiles created before tiers existed carry tier codes that no longer exist
UPDATE profiles SET tier = 'free'
WHERE tier NOT IN (SELECT code FROM tiers);

COMMENT ON TABLE tier_features IS 'Which features each tier unlocks';
