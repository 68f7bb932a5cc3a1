-- migrate: squashes 001-003
CREATE TABLE IF NOT EXISTS a (id int);
