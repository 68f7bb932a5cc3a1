DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT 1 AS a LOOP
    RAISE NOTICE '%', r.a;
  END;
END $$;
