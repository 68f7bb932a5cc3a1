-- Migration 001: ran in production before the lints existed
CREATE TABLE profiles (id int PRIMARY KEY);
ALTER TABLE profiles ADD COLUMN email text;
