CREATE OR REPLACE FUNCTION active_count() RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*)
    FROM accounts
    WHERE active = true
    GROUP BY
$$;
