-- Reverts 001_subscription_system.sql: drops its tables and their rows.
-- migrate: allow(destructive-change)
DROP TABLE IF EXISTS access_grants;
DROP TABLE IF EXISTS coupons;
DROP TABLE IF EXISTS subscriptions;
DROP TABLE IF EXISTS profiles;
DROP TABLE IF EXISTS tiers;
