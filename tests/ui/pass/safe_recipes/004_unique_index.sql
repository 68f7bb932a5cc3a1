-- Migration 004: build the index without blocking writes
-- migrate: no-transaction
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS email_unique ON profiles (email);
REINDEX INDEX CONCURRENTLY email_unique;
