-- Migration 001: the application's table, already in production
CREATE TABLE IF NOT EXISTS profiles (id int PRIMARY KEY, email text, age int, nick text);
