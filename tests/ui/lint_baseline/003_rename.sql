-- Migration 003: the first file written after adopting the lints
ALTER TABLE profiles RENAME COLUMN email TO mail;
