CREATE TABLE t (id int);

-- a comment
CREATE INDEX ON t (id) WHERE id > ;
