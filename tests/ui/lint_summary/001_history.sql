-- Migration 001: history, with findings the summary does not count
DROP TABLE old;
