-- Migration 002: also history
DROP TABLE t;
