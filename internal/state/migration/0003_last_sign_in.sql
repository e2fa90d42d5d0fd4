-- When each user last signed in, for the Users page. NULL: never.

ALTER TABLE pglinks.users ADD COLUMN last_sign_in_at timestamptz;
