CREATE OR REPLACE FUNCTION trg() RETURNS trigger AS $body$
DECLARE
    n int;
BEGIN
    IF n > 0 THEN
        n := n + 1;
    END;
    RETURN NEW;
END
$body$ LANGUAGE plpgsql;
