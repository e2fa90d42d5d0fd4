-- Every user object that takes part in a dependency, on either side, as
-- (classid, objid, objsubid): whatever a DROP ... CASCADE can reach is among
-- them (a generated column, for one, goes through its default's internal
-- dependency and appears only as a referenced object). Run before and after
-- dropping inside a savepoint: the difference is exactly what the drop took
-- with it.
SELECT classid::oid, objid::oid, objsubid FROM pg_depend WHERE objid >= 16384
UNION
SELECT refclassid::oid, refobjid::oid, refobjsubid FROM pg_depend WHERE refobjid >= 16384
