DO $$
BEGIN
  IF 1 = 1 THEN
    NULL;
  ELSE IF 2 = 2 THEN
    NULL;
  END IF;
END $$;
