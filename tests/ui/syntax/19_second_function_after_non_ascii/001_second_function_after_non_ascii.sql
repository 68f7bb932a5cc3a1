CREATE FUNCTION ok() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    RETURN 'ünïcödé ☃';
END
$$;

CREATE FUNCTION broken() RETURNS int LANGUAGE plpgsql AS $fn$
DECLARE
    total int := 0;
BEGIN
    FOR i IN 1..10 LOOP
        total := total + i;
    END LOOP
    RETURN total;
END
$fn$;
