DO $$
DECLARE
  x int := ;
BEGIN
  NULL;
END $$;
