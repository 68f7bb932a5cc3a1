-- Migration 001: index
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_t ON t (id);
