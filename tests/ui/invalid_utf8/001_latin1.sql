-- Migration 001
CREATE TABLE IF NOT EXISTS t (name text DEFAULT 'Café');
