DO $$
BEGIN
    IF true THEN
        NULL;
    END;
END
$$;
