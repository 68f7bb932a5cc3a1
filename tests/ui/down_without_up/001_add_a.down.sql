-- migrate: allow(destructive-change)
DROP TABLE IF EXISTS a;
