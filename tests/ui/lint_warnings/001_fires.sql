-- Migration 009: the header number is wrong
CREATE TABLE profiles (id int PRIMARY KEY);
CREATE TABLE IF NOT EXISTS subscriptions (profile_id int REFERENCES profiles(id));
ALTER TABLE profiles ADD COLUMN email text;
DROP INDEX idx_old;
DROP TABLE IF EXISTS legacy;
