-- Migration 003: more of the same
CREATE TABLE u1 (id int);
CREATE TABLE u2 (id int);
CREATE TABLE u3 (id int);
TRUNCATE t1;
