DO $body$ BEGIN NULL; END $$;
