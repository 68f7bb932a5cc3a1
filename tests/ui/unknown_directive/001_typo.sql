-- migrate: no-transactions
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_t ON t (id);
