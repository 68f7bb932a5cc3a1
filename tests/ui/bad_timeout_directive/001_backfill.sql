-- Migration 001: slow backfill
-- migrate: lock-timeout 5 seconds
-- migrate: statement-timeout 1.5min
SELECT 1;
