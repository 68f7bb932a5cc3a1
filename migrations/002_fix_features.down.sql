-- Reverts 002_fix_features.sql. Profiles moved to the 'free' tier stay there:
-- their old tier codes named tiers that no longer existed.
-- migrate: allow(destructive-change)
DROP TABLE IF EXISTS tier_features;
DROP TABLE IF EXISTS features;
