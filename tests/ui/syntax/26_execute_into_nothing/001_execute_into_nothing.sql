DO $$
BEGIN
  EXECUTE format('SELECT %I', 'a') INTO;
END $$;
