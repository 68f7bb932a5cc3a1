-- migrate: irreversible
CREATE TABLE IF NOT EXISTS a (id int);
