-- Migration 002: history too
DROP TABLE legacy;
