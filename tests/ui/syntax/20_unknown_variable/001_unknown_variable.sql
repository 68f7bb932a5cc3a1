CREATE FUNCTION k() RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    n int;
BEGIN
    m := 1;
    RETURN n;
END
$$;
